"""The worker: claims jobs from the `videos` queue and runs them through their engine.

One worker runs up to `concurrency` jobs at once on each engine (or the engine's own
`max_jobs`: a relay runs thousands). One heartbeat loop serves all of them: a single
transaction renews every lease the worker holds, records progress that changed, and
tells which jobs were deleted or taken over (their engines are told to stop).

The files go to storage under a per-attempt prefix before the row says `completed`, so
a reader never sees a completed video without its files, and an attempt that lost its
lease can't overwrite the files of the one that won.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import shutil
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from vidgate.catalog import Catalog
from vidgate.domain import NotFound, Variant
from vidgate.engines import (
    CancelToken,
    Engine,
    GenerationCancelled,
    GenerationFailed,
    GenerationRequest,
)
from vidgate.media import posters
from vidgate.service import media_key, reference_key
from vidgate.storage import ObjectNotFound, Storage
from vidgate.store.videos import Claim, VideoRepository
from vidgate.store.workers import WorkerRepository

log = logging.getLogger("vidgate.worker")


@dataclass(frozen=True)
class WorkerOptions:
    concurrency: int = 1
    lease_seconds: float = 30.0
    max_attempts: int = 3
    poll_interval: float = 1.0
    retention_seconds: int = 7 * 24 * 3600
    heartbeat_interval: float = 0.5
    housekeeping_interval: float = 60.0
    report_interval: float = 5.0


class _LeaseLost(Exception):
    """Another worker owns this job now, or it was deleted."""


class Worker:
    def __init__(
        self,
        repo: VideoRepository,
        storage: Storage,
        catalog: Catalog,
        engines: Mapping[str, Engine],
        options: WorkerOptions = WorkerOptions(),
        *,
        reports: WorkerRepository | None = None,
    ) -> None:
        self.repo = repo
        self.storage = storage
        self.catalog = catalog
        self.engines = dict(engines)
        self.options = options
        self.id = f"worker_{uuid.uuid4().hex[:12]}"
        self.started_at = int(time.time())
        self.reports = reports
        self._wake = asyncio.Event()
        self._jobs: dict[str, _Job] = {}
        self._busy: collections.Counter[str] = collections.Counter()  # jobs per engine

    def wake(self) -> None:
        """Look for work now rather than at the next poll (a job was just queued)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and run jobs until `stop` is set; then hand unfinished jobs back."""
        log.info("%s started (engines: %s)", self.id, ", ".join(self.engines))
        last_housekeeping = 0.0
        heartbeat = asyncio.create_task(self._heartbeat_loop())
        try:
            while not stop.is_set():
                if time.monotonic() - last_housekeeping > self.options.housekeeping_interval:
                    last_housekeeping = time.monotonic()
                    await self._housekeeping()
                self._wake.clear()
                await self._fill_slots()
                wake = asyncio.ensure_future(self._wake.wait())
                halt = asyncio.ensure_future(stop.wait())
                # A finished job sets _wake too (see _forget): a slot is free to fill.
                waiters: set[asyncio.Future[Any]] = {wake, halt}
                await asyncio.wait(
                    waiters, timeout=self.options.poll_interval, return_when=asyncio.FIRST_COMPLETED
                )
                wake.cancel()
                halt.cancel()
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            await self._shutdown()

    def _capacity(self, engine: str) -> int:
        return self.engines[engine].max_jobs or self.options.concurrency

    async def _fill_slots(self) -> None:
        while True:
            free = [name for name in self.engines if self._busy[name] < self._capacity(name)]
            if not free:
                return
            claim = await self._claim(free)
            if claim is None:
                return
            video_id = claim.video.id
            job = self._jobs[video_id] = _Job(claim.video.engine, CancelToken(), _Progress())
            self._busy[claim.video.engine] += 1
            job.task = asyncio.create_task(self._run_job(claim), name=video_id)
            job.task.add_done_callback(functools.partial(self._forget, video_id))

    def _forget(self, video_id: str, _: asyncio.Task[None]) -> None:
        job = self._jobs.pop(video_id, None)
        if job is not None:
            self._busy[job.engine] -= 1
        self._wake.set()

    async def _claim(self, engines: list[str]) -> Claim | None:
        try:
            return await self.repo.claim_next(
                self.id,
                now=time.time(),
                lease_seconds=self.options.lease_seconds,
                max_attempts=self.options.max_attempts,
                engines=engines,
            )
        except Exception:
            # The database may be briefly away; the job stays queued, try at the next poll.
            log.exception("claiming a job failed")
            return None

    async def _run_job(self, claim: Claim) -> None:
        video = claim.video
        log.info(
            "%s: %s attempt %d (%s, %s, %d s)",
            self.id,
            video.id,
            claim.attempt,
            video.model,
            video.size,
            video.seconds,
        )
        workdir = Path(tempfile.mkdtemp(prefix=f"vidgate-{video.id}-"))
        prefix = f"videos/{video.id}/{claim.attempt}/"
        job = self._jobs[video.id]
        try:
            request = await self._prepare(claim, workdir)
            await self.engines[video.engine].generate(request, job.progress.set, job.cancel)
            job.cancel.raise_if_cancelled()
            await self._store_files(request.output, workdir, prefix)
            if not await self.repo.complete(
                video.id,
                self.id,
                media_prefix=prefix,
                now=int(time.time()),
                expires_at=int(time.time()) + self.options.retention_seconds,
            ):
                raise _LeaseLost()
            log.info("%s: %s completed", self.id, video.id)
        except (GenerationCancelled, _LeaseLost, asyncio.CancelledError) as exc:
            job.cancel.cancel()  # an engine thread isn't stopped by cancelling its task
            await self._discard(prefix)
            if isinstance(exc, asyncio.CancelledError):
                raise
            # Deleted while running: close the row so housekeeping can purge its files.
            # (If the lease went to another worker instead, this changes nothing.)
            await self._fail(video.id, "cancelled", "The video was deleted while generating.")
        except GenerationFailed as exc:
            await self._discard(prefix)
            await self._fail(video.id, exc.code, str(exc))
        except SQLAlchemyError as exc:
            # The database, not the video, is in trouble: give the job back for another
            # try (an engine that saved its state resumes) instead of failing it.
            log.warning("%s: %s hit a database error; handing it back: %s",
                        self.id, video.id, exc)
            await self._discard(prefix)
            with contextlib.suppress(Exception):
                await self.repo.release(video.id, self.id)
        except Exception as exc:
            log.exception("%s: %s failed", self.id, video.id)
            await self._discard(prefix)
            await self._fail(
                video.id,
                "internal_error",
                f"Generation failed unexpectedly ({type(exc).__name__}: {exc}).",
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    async def _prepare(self, claim: Claim, workdir: Path) -> GenerationRequest:
        video = claim.video
        try:
            options = dict(self.catalog.get(video.model).options)
        except NotFound:
            options = {}  # the operator removed the model since; render with the defaults
        reference = source = None
        source_state = None
        if video.has_reference:
            reference = workdir / "reference.png"
            await self.storage.download(reference_key(video.id), reference)
        if video.remixed_from_video_id is not None:
            original = await self.repo.get(video.remixed_from_video_id)
            if original is None or original.media_prefix is None:
                raise GenerationFailed(
                    "The video being remixed was deleted before the remix ran.",
                    code="source_unavailable",
                )
            source_state = original.engine_state
            source = workdir / "source.mp4"
            try:
                await self.storage.download(media_key(original.media_prefix, Variant.VIDEO), source)
            except ObjectNotFound:
                raise GenerationFailed(
                    "The video being remixed has expired.", code="source_unavailable"
                ) from None
        return GenerationRequest(
            video_id=video.id,
            model=video.model,
            prompt=video.prompt,
            width=video.width,
            height=video.height,
            seconds=video.seconds,
            output=workdir / "video.mp4",
            reference=reference,
            source_video=source,
            options=options,
            state=video.engine_state,
            source_state=source_state,
            save_state=functools.partial(self._save_state, video.id),
        )

    async def _save_state(self, video_id: str, state: Mapping[str, Any]) -> None:
        if not await self.repo.save_engine_state(video_id, self.id, state):
            raise GenerationCancelled()  # deleted or taken over: not ours to go on with

    async def _store_files(self, mp4: Path, workdir: Path, prefix: str) -> None:
        thumbnail = workdir / Variant.THUMBNAIL.filename
        spritesheet = workdir / Variant.SPRITESHEET.filename
        await asyncio.to_thread(posters.make_posters, mp4, thumbnail, spritesheet)
        for variant, path in (
            (Variant.VIDEO, mp4),
            (Variant.THUMBNAIL, thumbnail),
            (Variant.SPRITESHEET, spritesheet),
        ):
            await self.storage.put_file(media_key(prefix, variant), path, variant.content_type)

    async def _heartbeat_loop(self) -> None:
        """Renew every lease this worker holds, record progress, stop lost jobs."""
        reported: dict[str, int] = {}
        last_report = 0.0
        while True:
            await asyncio.sleep(self.options.heartbeat_interval)
            if time.monotonic() - last_report >= self.options.report_interval:
                last_report = time.monotonic()
                await self._report()
            jobs = dict(self._jobs)
            if not jobs:
                reported.clear()
                continue
            progress = {
                video_id: percent
                for video_id, job in jobs.items()
                if (percent := job.progress.percent()) != reported.get(video_id)
            }
            try:
                held = await self.repo.renew_leases(
                    self.id,
                    progress=progress,
                    now=time.time(),
                    lease_seconds=self.options.lease_seconds,
                )
            except Exception:
                log.exception("renewing leases failed; retrying")
                continue
            reported = {k: v for k, v in {**reported, **progress}.items() if k in jobs}
            for video_id, job in jobs.items():
                # A job that started after the renewal's snapshot may be missing from it.
                if video_id not in held and video_id in self._jobs and not job.cancel.cancelled:
                    log.info("%s: %s was deleted or taken over; stopping it", self.id, video_id)
                    job.cancel.cancel()

    async def _report(self) -> None:
        """Tell operators what this worker runs and how its relay channels are doing."""
        if self.reports is None:
            return
        channels = [
            {"engine": name, **channel}
            for name, engine in self.engines.items()
            for channel in (engine.health() if hasattr(engine, "health") else [])
        ]
        report = {"engines": sorted(self.engines), "running": len(self._jobs),
                  "channels": channels}  # fmt: skip
        try:
            await self.reports.report(
                self.id, started_at=self.started_at, now=int(time.time()), report=report
            )
        except Exception:
            log.exception("reporting the worker's state failed; will retry")

    async def _fail(self, video_id: str, code: str, message: str) -> None:
        try:
            await self.repo.fail(
                video_id, self.id, code=code, message=message, now=int(time.time())
            )
        except Exception:
            # The lease will lapse and the job be retried (or failed as abandoned).
            log.exception("recording the failure of %s failed", video_id)

    async def _discard(self, prefix: str) -> None:
        with contextlib.suppress(Exception):
            await self.storage.delete_prefix(prefix)

    async def _housekeeping(self) -> None:
        """Fail jobs abandoned too often; delete files of expired and deleted videos."""
        now = time.time()
        try:
            for video_id in await self.repo.fail_abandoned(
                now=now, max_attempts=self.options.max_attempts
            ):
                log.warning("%s failed: its workers kept dying", video_id)
            for video in await self.repo.purgeable(now=int(now)):
                await self.storage.delete_prefix(f"videos/{video.id}/")
                engine = self.engines.get(video.engine)
                forget = getattr(engine, "forget", None)
                if forget is not None and video.engine_state:
                    await forget(video.engine_state)  # e.g. the relayed upstream's copy
                await self.repo.mark_purged(video.id, int(now))
        except Exception:
            log.exception("housekeeping failed; will retry")

    async def _shutdown(self) -> None:
        """Stop running jobs and hand them back to the queue untried; close the engines."""
        tasks = [(video_id, job.task) for video_id, job in self._jobs.items() if job.task]
        for _, task in tasks:
            task.cancel()
        for video_id, task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            with contextlib.suppress(Exception):
                await self.repo.release(video_id, self.id)
        if self.reports is not None:
            with contextlib.suppress(Exception):
                await self.reports.forget(self.id)
        for engine in self.engines.values():
            close = getattr(engine, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()


@dataclass
class _Job:
    """A job this worker runs: its engine, its stop flag and its progress."""

    engine: str
    cancel: CancelToken
    progress: _Progress
    task: asyncio.Task[None] | None = None


class _Progress:
    """The engine's latest fraction done; written from the engine's thread."""

    def __init__(self) -> None:
        self.fraction = 0.0

    def set(self, fraction: float) -> None:
        self.fraction = max(self.fraction, min(fraction, 1.0))

    def percent(self) -> int:
        # 100 means completed, which only the completion itself may say.
        return min(int(self.fraction * 100), 99)
