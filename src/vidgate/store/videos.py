"""The `videos` table, which is also the job queue: one method per named query.

Claim → heartbeat (renews the lease, reports progress, learns of deletion) → complete or
fail. Every transition after the claim re-checks that the caller still holds the lease,
so a worker whose lease lapsed (and whose job another worker took) can't finish it too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from vidgate.domain import Video, VideoStatus
from vidgate.store.db import Database
from vidgate.store.tables import videos

_VISIBLE = videos.c.deleted_at.is_(None)


@dataclass(frozen=True)
class Claim:
    """A job a worker now holds."""

    video: Video
    attempt: int


@dataclass(frozen=True)
class NewVideo:
    """The fields of a video about to be queued."""

    id: str
    owner: str
    model: str
    engine: str
    prompt: str
    width: int
    height: int
    seconds: int
    created_at: int
    has_reference: bool = False
    remixed_from_video_id: str | None = None
    idempotency_key: str | None = None


class VideoRepository:
    """Queries on `videos`. Times are Unix seconds passed in by the caller."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # --- the API's side -----------------------------------------------------------------

    async def insert(self, new: NewVideo) -> tuple[Video, bool]:
        """Queue a video; with an idempotency key already used, the earlier video instead.

        Returns the video and whether it was created now.
        """
        if new.idempotency_key is not None:
            existing = await self._by_idempotency_key(new.owner, new.idempotency_key)
            if existing is not None:
                return existing, False
        values: dict[str, Any] = {
            **new.__dict__,
            "status": VideoStatus.QUEUED.value,
            "progress": 0,
            "attempts": 0,
        }
        try:
            async with self.db.write() as conn:
                row = (
                    (await conn.execute(videos.insert().values(**values).returning(*videos.c)))
                    .mappings()
                    .one()
                )
        except IntegrityError:
            # Two requests with the same idempotency key raced; the other one won.
            if new.idempotency_key is None:
                raise
            existing = await self._by_idempotency_key(new.owner, new.idempotency_key)
            if existing is None:
                raise
            return existing, False
        return _video(row), True

    async def _by_idempotency_key(self, owner: str, key: str) -> Video | None:
        async with self.db.read() as conn:
            row = (
                (
                    await conn.execute(
                        select(videos).where(
                            videos.c.owner == owner, videos.c.idempotency_key == key
                        )
                    )
                )
                .mappings()
                .first()
            )
        return _video(row) if row else None

    async def get(self, video_id: str, owner: str | None = None) -> Video | None:
        """A visible video; with `owner`, only if that key owns it."""
        query = select(videos).where(videos.c.id == video_id, _VISIBLE)
        if owner is not None:
            query = query.where(videos.c.owner == owner)
        async with self.db.read() as conn:
            row = (await conn.execute(query)).mappings().first()
        return _video(row) if row else None

    async def list_page(
        self, owner: str, *, after: str | None, limit: int, descending: bool
    ) -> tuple[list[Video], bool] | None:
        """One page of the owner's videos after the cursor; None if the cursor is unknown."""
        query = select(videos).where(videos.c.owner == owner, _VISIBLE)
        async with self.db.read() as conn:
            if after is not None:
                cursor = (
                    await conn.execute(
                        select(videos.c.seq).where(videos.c.id == after, videos.c.owner == owner)
                    )
                ).scalar()
                if cursor is None:
                    return None
                query = query.where(videos.c.seq < cursor if descending else videos.c.seq > cursor)
            order = videos.c.seq.desc() if descending else videos.c.seq.asc()
            rows = (await conn.execute(query.order_by(order).limit(limit + 1))).mappings().all()
        return [_video(r) for r in rows[:limit]], len(rows) > limit

    async def mark_deleted(self, video_id: str, owner: str, now: int) -> Video | None:
        """Hide a video (a worker running it stops at its next heartbeat)."""
        async with self.db.write() as conn:
            row = (
                (
                    await conn.execute(
                        update(videos)
                        .where(videos.c.id == video_id, videos.c.owner == owner, _VISIBLE)
                        .values(deleted_at=now)
                        .returning(*videos.c)
                    )
                )
                .mappings()
                .first()
            )
        return _video(row) if row else None

    # --- the worker's side --------------------------------------------------------------

    async def claim_next(
        self,
        worker_id: str,
        *,
        now: float,
        lease_seconds: float,
        max_attempts: int,
        engines: Sequence[str],
    ) -> Claim | None:
        """Take the oldest runnable job: queued, or running under a lease that lapsed."""
        runnable = and_(
            _VISIBLE,
            videos.c.engine.in_(engines),
            videos.c.attempts < max_attempts,
            or_(
                videos.c.status == VideoStatus.QUEUED.value,
                and_(
                    videos.c.status == VideoStatus.IN_PROGRESS.value,
                    videos.c.lease_expires_at < now,
                ),
            ),
        )
        # FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite ignores it and relies on BEGIN IMMEDIATE.
        candidate = (
            select(videos.c.seq)
            .where(runnable)
            .order_by(videos.c.seq)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        stmt = (
            update(videos)
            .where(videos.c.seq == candidate)
            .values(
                status=VideoStatus.IN_PROGRESS.value,
                progress=0,
                attempts=videos.c.attempts + 1,
                lease_owner=worker_id,
                lease_expires_at=now + lease_seconds,
                started_at=func.coalesce(videos.c.started_at, int(now)),
            )
            .returning(*videos.c)
        )
        async with self.db.write() as conn:
            row = (await conn.execute(stmt)).mappings().first()
        if row is None:
            return None
        return Claim(video=_video(row), attempt=int(row["attempts"]))

    async def fail_abandoned(self, *, now: float, max_attempts: int) -> list[str]:
        """Fail jobs whose lease lapsed after their last allowed attempt."""
        async with self.db.write() as conn:
            rows = (
                (
                    await conn.execute(
                        update(videos)
                        .where(
                            videos.c.status == VideoStatus.IN_PROGRESS.value,
                            videos.c.lease_expires_at < now,
                            videos.c.attempts >= max_attempts,
                        )
                        .values(
                            status=VideoStatus.FAILED.value,
                            lease_owner=None,
                            error_code="worker_lost",
                            error_message=(
                                f"The video was attempted {max_attempts} times and "
                                "its worker stopped each time."
                            ),
                            completed_at=int(now),
                        )
                        .returning(videos.c.id)
                    )
                )
                .scalars()
                .all()
            )
        return list(rows)

    async def renew_leases(
        self, worker_id: str, *, progress: Mapping[str, int], now: float, lease_seconds: float
    ) -> set[str]:
        """Renew every lease the worker holds and record progress, in one transaction.

        One statement renews them all, however many jobs the worker runs (a relay worker
        follows thousands). Returns the ids still held and not deleted: a running job
        missing from it was deleted or taken over, and its worker should stop it.
        """
        held = and_(
            videos.c.lease_owner == worker_id,
            videos.c.status == VideoStatus.IN_PROGRESS.value,
        )
        async with self.db.write() as conn:
            if progress:
                await conn.execute(
                    update(videos)
                    .where(held, videos.c.id == bindparam("video_id"))
                    .values(progress=bindparam("percent")),
                    [{"video_id": k, "percent": v} for k, v in progress.items()],
                )
            alive = (
                await conn.execute(
                    update(videos)
                    .where(held, _VISIBLE)
                    .values(lease_expires_at=now + lease_seconds)
                    .returning(videos.c.id)
                )
            ).scalars()
            return set(alive)

    async def save_engine_state(
        self, video_id: str, worker_id: str, state: Mapping[str, Any]
    ) -> bool:
        """Keep what the engine needs to resume this job; False if the lease was lost."""
        async with self.db.write() as conn:
            result = await conn.execute(
                update(videos)
                .where(*self._held(video_id, worker_id))
                .values(engine_state=json.dumps(dict(state)))
            )
        return result.rowcount == 1

    async def complete(
        self, video_id: str, worker_id: str, *, media_prefix: str, now: int, expires_at: int
    ) -> bool:
        """Mark the job done with its files in place; False if the lease was lost."""
        async with self.db.write() as conn:
            result = await conn.execute(
                update(videos)
                .where(*self._held(video_id, worker_id))
                .values(
                    status=VideoStatus.COMPLETED.value,
                    progress=100,
                    media_prefix=media_prefix,
                    completed_at=now,
                    expires_at=expires_at,
                    lease_owner=None,
                    lease_expires_at=None,
                )
            )
        return result.rowcount == 1

    async def fail(
        self, video_id: str, worker_id: str, *, code: str, message: str, now: int
    ) -> bool:
        """Mark the job failed for the client to see; False if the lease was lost."""
        async with self.db.write() as conn:
            result = await conn.execute(
                update(videos)
                .where(*self._held(video_id, worker_id))
                .values(
                    status=VideoStatus.FAILED.value,
                    error_code=code,
                    error_message=message,
                    completed_at=now,
                    lease_owner=None,
                    lease_expires_at=None,
                )
            )
        return result.rowcount == 1

    async def release(self, video_id: str, worker_id: str) -> bool:
        """Give a job back to the queue untried (the worker is shutting down)."""
        async with self.db.write() as conn:
            result = await conn.execute(
                update(videos)
                .where(*self._held(video_id, worker_id))
                .values(
                    status=VideoStatus.QUEUED.value,
                    progress=0,
                    attempts=videos.c.attempts - 1,
                    lease_owner=None,
                    lease_expires_at=None,
                )
            )
        return result.rowcount == 1

    @staticmethod
    def _held(video_id: str, worker_id: str) -> tuple[Any, ...]:
        return (
            videos.c.id == video_id,
            videos.c.lease_owner == worker_id,
            videos.c.status == VideoStatus.IN_PROGRESS.value,
        )

    # --- housekeeping -------------------------------------------------------------------

    async def purgeable(self, *, now: int, limit: int = 100) -> list[Video]:
        """Videos whose files should go: expired, or deleted and no longer running."""
        expired = and_(videos.c.expires_at.is_not(None), videos.c.expires_at <= now)
        deleted_idle = and_(
            videos.c.deleted_at.is_not(None), videos.c.status != VideoStatus.IN_PROGRESS.value
        )
        async with self.db.read() as conn:
            rows = (
                (
                    await conn.execute(
                        select(videos)
                        .where(videos.c.purged_at.is_(None), or_(expired, deleted_idle))
                        .order_by(videos.c.seq)
                        .limit(limit)
                    )
                )
                .mappings()
                .all()
            )
        return [_video(r) for r in rows]

    async def mark_purged(self, video_id: str, now: int) -> None:
        async with self.db.write() as conn:
            await conn.execute(update(videos).where(videos.c.id == video_id).values(purged_at=now))


def _video(row: RowMapping) -> Video:
    return Video(
        id=row["id"],
        owner=row["owner"],
        model=row["model"],
        engine=row["engine"],
        prompt=row["prompt"],
        width=row["width"],
        height=row["height"],
        seconds=row["seconds"],
        status=VideoStatus(row["status"]),
        progress=row["progress"],
        created_at=row["created_at"],
        completed_at=row["completed_at"],
        expires_at=row["expires_at"],
        remixed_from_video_id=row["remixed_from_video_id"],
        error_code=row["error_code"],
        error_message=row["error_message"],
        has_reference=bool(row["has_reference"]),
        media_prefix=row["media_prefix"],
        engine_state=json.loads(row["engine_state"]) if row["engine_state"] else None,
    )
