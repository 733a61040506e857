"""The `workers` table: each worker's latest report, for operators (channel health)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select, update

from vidgate.store.db import Database
from vidgate.store.tables import workers

LIVE_SECONDS = 60
"""Workers not heard from for this long are left out (stopped or dead)."""


class WorkerRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def report(
        self, worker_id: str, *, started_at: int, now: int, report: Mapping[str, Any]
    ) -> None:
        """Record the worker's state (insert on its first report, update after)."""
        values = {"seen_at": now, "report": json.dumps(dict(report))}
        async with self.db.write() as conn:
            result = await conn.execute(
                update(workers).where(workers.c.id == worker_id).values(**values)
            )
            if result.rowcount == 0:
                await conn.execute(
                    workers.insert().values(id=worker_id, started_at=started_at, **values)
                )

    async def live(self, *, now: int) -> list[dict[str, Any]]:
        """Reports of workers heard from in the last LIVE_SECONDS, newest first."""
        since = now - LIVE_SECONDS
        async with self.db.read() as conn:
            rows = (
                await conn.execute(
                    select(workers).where(workers.c.seen_at >= since).order_by(
                        workers.c.seen_at.desc()
                    )
                )
            ).mappings()
            return [
                {"id": r["id"], "started_at": r["started_at"], "seen_at": r["seen_at"],
                 **json.loads(r["report"])}
                for r in rows
            ]  # fmt: skip

    async def live_channels(self, *, now: int) -> list[dict[str, Any]]:
        """Each relay channel as each live worker sees it (with a "worker" key)."""
        workers = await self.live(now=now)
        return [{"worker": w["id"], **c} for w in workers for c in w.get("channels", [])]

    async def forget(self, worker_id: str) -> None:
        """A worker that stops cleanly removes its report."""
        async with self.db.write() as conn:
            await conn.execute(delete(workers).where(workers.c.id == worker_id))
