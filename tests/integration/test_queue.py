"""The `videos` table as a queue, on SQLite and PostgreSQL: claim, lease, finish, reap."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from vidgate.domain import VideoStatus
from vidgate.store import migrate
from vidgate.store.db import Database
from vidgate.store.keys import KeyRepository
from vidgate.store.videos import NewVideo, VideoRepository


@pytest.fixture
async def repo(database_url: str) -> AsyncIterator[tuple[VideoRepository, str]]:
    await asyncio.to_thread(migrate.upgrade, database_url)
    db = Database(database_url)
    key, _ = await KeyRepository(db).create("queue-test")
    yield VideoRepository(db), key.id
    await db.close()


def _new(owner: str, n: int, **extra: object) -> NewVideo:
    fields: dict[str, object] = dict(
        id=f"video_{n:04d}", owner=owner, model="sora-2", engine="preview",
        prompt=f"prompt {n}", width=720, height=1280, seconds=4, created_at=int(time.time()))
    fields.update(extra)
    return NewVideo(**fields)  # type: ignore[arg-type]


CLAIM = dict(lease_seconds=30.0, max_attempts=3, engines=["preview"])


async def test_claims_oldest_first_and_never_twice(repo: tuple[VideoRepository, str]) -> None:
    videos, owner = repo
    for n in range(3):
        await videos.insert(_new(owner, n))
    now = time.time()
    first = await videos.claim_next("w1", now=now, **CLAIM)  # type: ignore[arg-type]
    second = await videos.claim_next("w2", now=now, **CLAIM)  # type: ignore[arg-type]
    assert first is not None and second is not None
    assert (first.video.id, second.video.id) == ("video_0000", "video_0001")
    assert first.attempt == 1 and first.video.status == VideoStatus.IN_PROGRESS
    third = await videos.claim_next("w1", now=now, **CLAIM)  # type: ignore[arg-type]
    assert third is not None and third.video.id == "video_0002"
    assert await videos.claim_next("w1", now=now, **CLAIM) is None  # type: ignore[arg-type]


async def test_only_claims_engines_the_worker_has(repo: tuple[VideoRepository, str]) -> None:
    videos, owner = repo
    await videos.insert(_new(owner, 1, engine="relay"))
    claim = await videos.claim_next("w1", now=time.time(), **CLAIM)  # type: ignore[arg-type]
    assert claim is None


async def test_concurrent_claims_hand_out_each_job_once(
    repo: tuple[VideoRepository, str], database_url: str
) -> None:
    videos, owner = repo
    for n in range(60):
        await videos.insert(_new(owner, n))
    # Separate engines (connection pools) so the claims really race each other.
    dbs = [Database(database_url) for _ in range(4)]
    claimed: list[str] = []

    async def drain(worker: str, db: Database) -> None:
        other = VideoRepository(db)
        while (c := await other.claim_next(worker, now=time.time(), **CLAIM)) is not None:  # type: ignore[arg-type]
            claimed.append(c.video.id)

    await asyncio.gather(*(drain(f"w{i}", db) for i, db in enumerate(dbs)))
    for db in dbs:
        await db.close()
    assert sorted(claimed) == [f"video_{n:04d}" for n in range(60)]


async def test_lapsed_lease_is_reclaimed_and_old_holder_cannot_finish(
    repo: tuple[VideoRepository, str],
) -> None:
    videos, owner = repo
    await videos.insert(_new(owner, 1))
    now = time.time()
    first = await videos.claim_next("w1", now=now, **CLAIM)  # type: ignore[arg-type]
    assert first is not None
    # Not yet lapsed: nobody else gets it.
    assert await videos.claim_next("w2", now=now + 10, **CLAIM) is None  # type: ignore[arg-type]
    second = await videos.claim_next("w2", now=now + 31, **CLAIM)  # type: ignore[arg-type]
    assert second is not None and second.attempt == 2
    # The first worker comes back to life: its heartbeat and completion are refused.
    assert await videos.renew_leases("w1", progress={"video_0001": 50}, now=now + 32,
                                     lease_seconds=30) == set()
    assert not await videos.complete("video_0001", "w1", media_prefix="videos/x/1/",
                                     now=int(now), expires_at=int(now) + 60)
    assert await videos.complete("video_0001", "w2", media_prefix="videos/x/2/",
                                 now=int(now), expires_at=int(now) + 60)
    video = await videos.get("video_0001")
    assert video is not None
    assert video.status == VideoStatus.COMPLETED and video.media_prefix == "videos/x/2/"
    assert video.progress == 100


async def test_heartbeat_renews_lease_and_records_progress(
    repo: tuple[VideoRepository, str],
) -> None:
    videos, owner = repo
    await videos.insert(_new(owner, 1))
    now = time.time()
    assert await videos.claim_next("w1", now=now, **CLAIM)  # type: ignore[arg-type]
    assert await videos.renew_leases("w1", progress={"video_0001": 42}, now=now + 25,
                                     lease_seconds=30) == {"video_0001"}
    # Renewed at +25 for 30 s: still held at +40.
    assert await videos.claim_next("w2", now=now + 40, **CLAIM) is None  # type: ignore[arg-type]
    video = await videos.get("video_0001")
    assert video is not None and video.progress == 42


async def test_exhausted_attempts_fail_the_job(repo: tuple[VideoRepository, str]) -> None:
    videos, owner = repo
    await videos.insert(_new(owner, 1))
    t = time.time()
    for attempt in range(3):
        claim = await videos.claim_next(f"w{attempt}", now=t + attempt * 31, **CLAIM)  # type: ignore[arg-type]
        assert claim is not None and claim.attempt == attempt + 1
    assert await videos.claim_next("w9", now=t + 200, **CLAIM) is None  # type: ignore[arg-type]
    assert await videos.fail_abandoned(now=t + 200, max_attempts=3) == ["video_0001"]
    video = await videos.get("video_0001")
    assert video is not None and video.status == VideoStatus.FAILED
    assert video.error_code == "worker_lost"


async def test_deleted_job_is_not_claimed_and_running_one_loses_heartbeat(
    repo: tuple[VideoRepository, str],
) -> None:
    videos, owner = repo
    await videos.insert(_new(owner, 1))
    await videos.insert(_new(owner, 2))
    now = time.time()
    claim = await videos.claim_next("w1", now=now, **CLAIM)  # type: ignore[arg-type]
    assert claim is not None and claim.video.id == "video_0001"
    assert await videos.mark_deleted("video_0002", owner, int(now))
    assert await videos.claim_next("w1", now=now, **CLAIM) is None  # type: ignore[arg-type]
    assert await videos.mark_deleted("video_0001", owner, int(now))
    assert await videos.renew_leases("w1", progress={}, now=now, lease_seconds=30) == set()
    assert await videos.get("video_0001") is None


async def test_release_returns_job_untried(repo: tuple[VideoRepository, str]) -> None:
    videos, owner = repo
    await videos.insert(_new(owner, 1))
    claim = await videos.claim_next("w1", now=time.time(), **CLAIM)  # type: ignore[arg-type]
    assert claim is not None
    assert await videos.release("video_0001", "w1")
    again = await videos.claim_next("w2", now=time.time(), **CLAIM)  # type: ignore[arg-type]
    assert again is not None and again.attempt == 1


async def test_list_pages_with_cursor_per_owner(repo: tuple[VideoRepository, str]) -> None:
    videos, owner = repo
    other_key, _ = await KeyRepository(videos.db).create("other")
    for n in range(5):
        await videos.insert(_new(owner, n))
    await videos.insert(_new(other_key.id, 99))
    page = await videos.list_page(owner, after=None, limit=2, descending=True)
    assert page is not None
    items, more = page
    assert [v.id for v in items] == ["video_0004", "video_0003"] and more
    page = await videos.list_page(owner, after="video_0003", limit=10, descending=True)
    assert page is not None
    assert [v.id for v in page[0]] == ["video_0002", "video_0001", "video_0000"]
    assert page[1] is False
    page = await videos.list_page(owner, after="video_0001", limit=10, descending=False)
    assert page is not None and [v.id for v in page[0]] == ["video_0002", "video_0003",
                                                          "video_0004"]
    # Another key's id is no cursor here.
    assert await videos.list_page(owner, after="video_0099", limit=2, descending=True) is None


async def test_idempotency_key_returns_the_first_video(repo: tuple[VideoRepository, str]) -> None:
    videos, owner = repo
    first, created = await videos.insert(_new(owner, 1, idempotency_key="abc"))
    again, created_again = await videos.insert(_new(owner, 2, idempotency_key="abc"))
    assert created and not created_again and again.id == first.id


async def test_one_renewal_covers_every_job_a_worker_holds(
    repo: tuple[VideoRepository, str],
) -> None:
    videos, owner = repo
    for n in range(4):
        await videos.insert(_new(owner, n))
    now = time.time()
    for worker in ("w1", "w1", "w1", "w2"):
        assert await videos.claim_next(worker, now=now, **CLAIM)  # type: ignore[arg-type]
    held = await videos.renew_leases("w1", progress={"video_0000": 10, "video_0003": 99},
                                     now=now + 25, lease_seconds=30)
    assert held == {"video_0000", "video_0001", "video_0002"}
    # w1's leases run to +55; w2's lapsed at +30.
    late = await videos.claim_next("w3", now=now + 40, **CLAIM)  # type: ignore[arg-type]
    assert late is not None and late.video.id == "video_0003"
    first = await videos.get("video_0000")
    assert first is not None and first.progress == 10
    taken = await videos.get("video_0003")  # not w1's: its progress was not written
    assert taken is not None and taken.progress == 0


async def test_engine_state_is_kept_for_the_next_attempt(
    repo: tuple[VideoRepository, str],
) -> None:
    videos, owner = repo
    await videos.insert(_new(owner, 1))
    now = time.time()
    claim = await videos.claim_next("w1", now=now, **CLAIM)  # type: ignore[arg-type]
    assert claim is not None and claim.video.engine_state is None
    assert await videos.save_engine_state("video_0001", "w1", {"upstream_id": "video_up"})
    assert not await videos.save_engine_state("video_0001", "w2", {"upstream_id": "other"})
    again = await videos.claim_next("w2", now=now + 31, **CLAIM)  # type: ignore[arg-type]
    assert again is not None and again.video.engine_state == {"upstream_id": "video_up"}
