"""SQLite storage: the connection layer and schema migrations."""

from assistant.store.database import Connection, Database, Row
from assistant.store.migrate import Migration

__all__ = ["Connection", "Database", "Migration", "Row"]
