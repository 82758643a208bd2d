"""SQLite storage: the connection layer and schema migrations."""

from assistant.store.database import MAX_INTEGER, Connection, Database, Row
from assistant.store.migrate import Migration

__all__ = ["MAX_INTEGER", "Connection", "Database", "Migration", "Row"]
