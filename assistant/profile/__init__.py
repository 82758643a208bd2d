"""The profile service."""

from assistant.profile.models import Preferences, Profile, ProfileFields, UsageMetric
from assistant.profile.service import ProfileService

__all__ = ["Preferences", "Profile", "ProfileFields", "ProfileService", "UsageMetric"]
