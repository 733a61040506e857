"""The Alembic migrations build exactly the schema the code declares."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from vidgate.store import migrate
from vidgate.store.db import Database
from vidgate.store.tables import metadata


async def test_migrations_match_tables(database_url: str) -> None:
    await asyncio.to_thread(migrate.upgrade, database_url)
    await asyncio.to_thread(migrate.upgrade, database_url)  # a second run changes nothing
    db = Database(database_url)

    def diff(conn: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))

    def tables(conn: Connection) -> set[str]:
        return set(inspect(conn).get_table_names())

    async with db.engine.connect() as conn:
        assert await conn.run_sync(diff) == []
        assert {"videos", "api_keys", "alembic_version"} <= await conn.run_sync(tables)
    await db.close()
