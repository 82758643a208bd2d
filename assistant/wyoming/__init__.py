"""The Wyoming service: speech, voices, wake words and the conversation agent for Home
Assistant and Wyoming satellites (the TCP face is ``server/wyoming``)."""

from assistant.wyoming.service import WyomingOptions, WyomingService

__all__ = ["WyomingOptions", "WyomingService"]
