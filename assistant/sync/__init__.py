"""The optional sync bridge to a cloud profile service (another instance of this server).

Per-field last-writer-wins with hybrid logical clocks (``hlc``), a change log and outbox
in SQLite (``changes``), the transport to the remote (``transport``) and the bridge that
runs rounds with backoff (``bridge``).
"""

from assistant.sync.bridge import RemoteConfig, SyncBridge
from assistant.sync.changes import ChangeLog
from assistant.sync.models import ChangePage, FieldChange, Outcome, RoundResult, SyncStatus

__all__ = [
    "ChangeLog",
    "ChangePage",
    "FieldChange",
    "Outcome",
    "RemoteConfig",
    "RoundResult",
    "SyncBridge",
    "SyncStatus",
]
