"""Alembic environment: runs the migrations over the async engine vidgate uses."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from vidgate.store.tables import metadata

_MIGRATION_LOCK = 7_423_001  # a PostgreSQL advisory lock id: one migrator at a time


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Several API/worker processes may start together; only one may migrate at a time.
        connection.execute(text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})"))
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_async(context.config.get_main_option("sqlalchemy.url") or ""))
