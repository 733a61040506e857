"""The ASGI application: wiring settings → database, storage, catalog, services, worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import text

from vidgate import __version__
from vidgate.api import admin, errors, files, models, videos
from vidgate.api.body_limit import BodyLimit
from vidgate.api.links import LinkSigner
from vidgate.catalog import Catalog, load_catalog
from vidgate.config import Settings
from vidgate.engines import Engine, build_engine, check_catalog
from vidgate.service import KeyService, Limits, VideoService
from vidgate.storage import S3Options, open_storage
from vidgate.store import migrate
from vidgate.store.db import Database
from vidgate.store.keys import KeyRepository
from vidgate.store.videos import VideoRepository
from vidgate.store.workers import WorkerRepository
from vidgate.worker import Worker, WorkerOptions

log = logging.getLogger("vidgate")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(migrate.upgrade, settings.resolved_database_url)
        db = Database(settings.resolved_database_url)
        storage = open_storage(settings.resolved_storage_url, s3_options(settings))
        catalog = load_catalog(settings.models)
        check_catalog(catalog.entries)
        repo = VideoRepository(db)
        reports = WorkerRepository(db)
        worker = None
        stop = asyncio.Event()
        if settings.run_worker:
            worker = Worker(
                repo,
                storage,
                catalog,
                build_engines(catalog_engines(catalog), settings),
                worker_options(settings),
                reports=reports,
            )
        app.state.settings = settings
        app.state.db = db
        app.state.workers = reports
        app.state.catalog = catalog
        app.state.keys = KeyService(KeyRepository(db))
        app.state.videos = VideoService(
            repo,
            storage,
            catalog,
            limits=Limits(
                max_prompt_chars=settings.max_prompt_chars,
                max_reference_bytes=settings.max_reference_bytes,
                max_reference_pixels=settings.max_reference_pixels,
            ),
            on_queued=worker.wake if worker else lambda: None,
        )
        app.state.signer = LinkSigner(settings.signing_key(), settings.resolved_public_url)
        task = asyncio.create_task(worker.run(stop)) if worker else None
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                await task
            await storage.close()
            await db.close()

    app = FastAPI(
        title="vidgate",
        version=__version__,
        summary="The Sora 2 video API, self-hosted.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    errors.install(app)
    app.include_router(videos.router, tags=["videos"])
    app.include_router(models.router, tags=["models"])
    app.include_router(files.router, tags=["files"])
    app.include_router(admin.router, tags=["admin"])

    @app.get("/healthz", tags=["health"], summary="Health check")
    async def healthz(request: Request) -> JSONResponse:
        """`ok` when the database answers."""
        db: Database = request.app.state.db
        try:
            async with db.read() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "database": str(exc)}, status_code=503)
        return JSONResponse({"status": "ok", "version": __version__})

    @app.get("/", include_in_schema=False)
    async def console() -> HTMLResponse:
        page = resources.files("vidgate").joinpath("web/index.html").read_text("utf-8")
        return HTMLResponse(page)

    # The largest body is a create with its image; leave room for the other fields.
    app.add_middleware(BodyLimit, max_bytes=settings.max_reference_bytes + 1024 * 1024)
    return app


def s3_options(settings: Settings) -> S3Options:
    return S3Options(
        endpoint=settings.s3_endpoint,
        region=settings.s3_region,
        access_key_id=settings.s3_access_key_id,
        secret_access_key=settings.s3_secret_access_key,
    )


def worker_options(settings: Settings) -> WorkerOptions:
    return WorkerOptions(
        concurrency=settings.worker_concurrency,
        lease_seconds=settings.lease_seconds,
        max_attempts=settings.max_attempts,
        poll_interval=settings.poll_interval_seconds,
        retention_seconds=settings.retention_seconds,
        heartbeat_interval=min(0.5, settings.lease_seconds / 3),
        housekeeping_interval=settings.housekeeping_seconds,
    )


def catalog_engines(catalog: Catalog) -> set[str]:
    """The engines the catalog's entries name: the ones a worker needs."""
    return {entry.engine for entry in catalog.entries}


def build_engines(names: set[str], settings: Settings) -> dict[str, Engine]:
    """The engines this worker can run; one that can't be built is skipped with a warning."""
    engines: dict[str, Engine] = {}
    for name in sorted(names):
        try:
            engines[name] = build_engine(name, channels=settings.channels)
        except Exception as exc:
            log.warning(
                "engine %r is unavailable here and its jobs are left for other workers: %s",
                name,
                exc,
            )
    return engines
