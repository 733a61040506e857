"""Connections: one `Database` per process, SQLite or PostgreSQL behind the same calls.

The one place where the two differ: SQLite has no row locks, so a write transaction takes
the database's write lock up front (`BEGIN IMMEDIATE`). Then a claim's read and its
update can't interleave with another process's claim, and a busy writer waits (busy
timeout) instead of failing with "database is locked" halfway through. Within one
process, SQLite writers also queue on an asyncio lock: SQLite runs one writer at a time
anyway, and a thousand coroutines (a relay worker's jobs) contending for it through the
connection pool and SQLite's busy handler timed out, where a queue simply takes turns.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

_WRITE = "vidgate_write"


class Database:
    """An async engine with `read()` and `write()` transactions."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            _take_sqlite_transactions_in_hand(self.engine)
        self._writer = self.engine.execution_options(**{_WRITE: True})
        self._write_turn = asyncio.Lock() if self.is_sqlite else None

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that only reads."""
        async with self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that writes; on SQLite it holds the write lock from the start."""
        if self._write_turn is None:
            async with self._writer.begin() as conn:
                yield conn
            return
        async with self._write_turn, self._writer.begin() as conn:
            yield conn

    async def close(self) -> None:
        await self.engine.dispose()


def _take_sqlite_transactions_in_hand(engine: AsyncEngine) -> None:
    # The sqlite3 module opens transactions on its own schedule; take that over so that
    # BEGIN is emitted exactly when SQLAlchemy begins, and IMMEDIATE for writers.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
