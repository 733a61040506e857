"""The `vidgate` command: serve, worker, keys, migrate, models."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from vidgate.config import Settings

app = typer.Typer(
    help="vidgate: the Sora 2 video API, self-hosted.", no_args_is_help=True, add_completion=False
)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

DataDir = Annotated[
    Path | None,
    typer.Option(help="Where the SQLite file, media and secret live (env VIDGATE_DATA_DIR)"),
]


def _settings(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # httpx logs every request at INFO: a relay worker would log each upstream poll.
    logging.getLogger("httpx").setLevel(logging.WARNING)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (env VIDGATE_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (env VIDGATE_PORT)")] = None,
    data_dir: DataDir = None,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Serve the API only; run `vidgate worker` elsewhere")
    ] = False,
    local_key: Annotated[
        bool,
        typer.Option(
            "--local-key",
            help="Create (once) and print a key for local use, kept in DATA_DIR/local.key",
        ),
    ] = False,
) -> None:
    """Run the API server (with an in-process worker unless --no-worker)."""
    import uvicorn

    from vidgate.api.app import create_app
    from vidgate.store import migrate

    _logging()
    settings = _settings(
        host=host, port=port, data_dir=data_dir, run_worker=False if no_worker else None
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.resolved_database_url)
    if local_key:
        token = asyncio.run(_local_key(settings))
        _print_banner(settings, token)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=False,
    )


@app.command()
def worker(
    data_dir: DataDir = None,
    concurrency: Annotated[int | None, typer.Option(help="Jobs run at once")] = None,
) -> None:
    """Run a worker alone, against the same database and storage as the API."""
    from vidgate.api.app import build_engines, catalog_engines, s3_options, worker_options
    from vidgate.catalog import load_catalog
    from vidgate.engines import check_catalog
    from vidgate.storage import open_storage
    from vidgate.store import migrate
    from vidgate.store.db import Database
    from vidgate.store.videos import VideoRepository
    from vidgate.store.workers import WorkerRepository
    from vidgate.worker import Worker

    _logging()
    settings = _settings(data_dir=data_dir, worker_concurrency=concurrency)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.resolved_database_url)

    async def main() -> None:
        db = Database(settings.resolved_database_url)
        storage = open_storage(settings.resolved_storage_url, s3_options(settings))
        catalog = load_catalog(settings.models)
        check_catalog(catalog.entries)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await Worker(
                VideoRepository(db),
                storage,
                catalog,
                build_engines(catalog_engines(catalog), settings),
                worker_options(settings),
                reports=WorkerRepository(db),
            ).run(stop)
        finally:
            await storage.close()
            await db.close()

    asyncio.run(main())


@app.command(name="migrate")
def migrate_command(data_dir: DataDir = None) -> None:
    """Create or upgrade the database schema."""
    from vidgate.store import migrate

    settings = _settings(data_dir=data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.resolved_database_url)
    typer.echo("schema is up to date")


@app.command()
def models() -> None:
    """List the model catalog (defaults plus VIDGATE_CONFIG's entries)."""
    from vidgate.catalog import load_catalog

    for entry in load_catalog(_settings().models).entries:
        typer.echo(
            f"{entry.name:32} {entry.engine:10} {','.join(entry.size_names):40} "
            f"{','.join(str(s) for s in entry.seconds)} s"
        )


@app.command()
def channels(data_dir: DataDir = None) -> None:
    """Relay channel health as each live worker last reported it."""
    import time

    from vidgate.store.workers import WorkerRepository

    settings = _settings(data_dir=data_dir)

    async def read() -> list[dict[str, Any]]:
        from vidgate.store import migrate
        from vidgate.store.db import Database

        await asyncio.to_thread(migrate.upgrade, settings.resolved_database_url)
        db = Database(settings.resolved_database_url)
        try:
            return await WorkerRepository(db).live_channels(now=int(time.time()))
        finally:
            await db.close()

    rows = asyncio.run(read())
    if not rows:
        typer.echo("no relay channels reported by a live worker")
        return
    typer.echo(f"{'worker':20} {'channel':16} {'state':13} {'in flight':>9} {'ok':>6} "
               f"{'failed':>6}  last error")
    for c in rows:
        errors = c.get("recent_errors") or []
        last = errors[-1]["message"][:60] if errors else ""
        in_flight = f"{c['in_flight']}/{c['max_in_flight']}"
        typer.echo(f"{c['worker']:20} {c['name']:16} {c['state']:13} {in_flight:>9} "
                   f"{c['succeeded']:>6} {c['failed']:>6}  {last}")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="What the key is for")],
    data_dir: DataDir = None,
) -> None:
    """Create an API key; the key is the last line printed (shown only this once)."""
    settings = _settings(data_dir=data_dir)
    key, token = asyncio.run(_with_keys(settings, lambda repo: repo.create(name)))
    typer.echo(f"created {key.id} ({key.name}); store the key now, it is not shown again:")
    typer.echo(token)


@keys_app.command("list")
def keys_list(data_dir: DataDir = None) -> None:
    """List API keys (never their secrets)."""
    settings = _settings(data_dir=data_dir)
    for key in asyncio.run(_with_keys(settings, lambda repo: repo.list())):
        state = "revoked" if key.revoked_at else "active"
        typer.echo(f"{key.id}  {key.token_prefix}…  {state:8} {key.name}")


@keys_app.command("revoke")
def keys_revoke(key_id: str, data_dir: DataDir = None) -> None:
    """Revoke an API key by id (as `keys list` shows it)."""
    settings = _settings(data_dir=data_dir)
    if not asyncio.run(_with_keys(settings, lambda repo: repo.revoke(key_id))):
        typer.echo(f"no active key {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


async def _with_keys(settings: Settings, action: Any) -> Any:
    from vidgate.store import migrate
    from vidgate.store.db import Database
    from vidgate.store.keys import KeyRepository

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(migrate.upgrade, settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    try:
        return await action(KeyRepository(db))
    finally:
        await db.close()


async def _local_key(settings: Settings) -> str:
    """The token in DATA_DIR/local.key if it still works, else a new one kept there."""
    from vidgate.store.keys import KeyRepository

    path = settings.data_dir / "local.key"

    async def ensure(repo: KeyRepository) -> str:
        if path.exists():
            token = path.read_text().strip()
            if await repo.authenticate(token) is not None:
                return token
        _, token = await repo.create("local")
        path.write_text(token + "\n")
        path.chmod(0o600)
        return token

    result: str = await _with_keys(settings, ensure)
    return result


def _print_banner(settings: Settings, token: str) -> None:
    base = settings.resolved_public_url
    typer.echo(f"""
vidgate is starting on {base}

  console   {base}/
  API docs  {base}/docs
  API key   {token}

Create a video:

  curl -s {base}/v1/videos \\
    -H "Authorization: Bearer {token}" \\
    -F model=sora_video2-landscape -F prompt="a lighthouse at dawn, waves rolling in"

Then poll it (the id is in the answer above):

  curl -s {base}/v1/videos/VIDEO_ID -H "Authorization: Bearer {token}"
""")
