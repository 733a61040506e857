"""Schema migrations (Alembic), run from code: `vidgate migrate` and at start-up."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

_HERE = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema at `url` up to `revision`. Blocking: call it outside the event loop."""
    command.upgrade(alembic_config(url), revision)
