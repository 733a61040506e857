"""Settings: one object, from `VIDGATE_*` environment variables and an optional TOML file.

The TOML file (path in `VIDGATE_CONFIG`) holds the same keys as the environment, in lower
case, plus `[[models]]` tables that extend or override the built-in catalog. The
environment wins over the file.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class Settings(BaseSettings):
    """Everything an operator can set."""

    model_config = SettingsConfigDict(env_prefix="VIDGATE_", extra="ignore")

    data_dir: Path = Field(default=Path(".vidgate"), description="SQLite file, media, secret")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default a SQLite file in data_dir"
    )
    storage_url: str | None = Field(
        default=None, description="file:///dir, s3://bucket[/prefix]; default data_dir/media"
    )
    s3_endpoint: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None

    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = Field(
        default=None, description="Base of video_url links; default http://host:port"
    )
    signing_secret: str | None = Field(
        default=None, description="HMAC key for video_url; default a random key kept in data_dir"
    )
    retention_seconds: int = Field(default=7 * 24 * 3600, ge=1)
    admin_key: str | None = Field(
        default=None, description="Bearer token of the /admin API; unset, the admin API is off"
    )

    run_worker: bool = Field(default=True, description="Run a worker inside the API process")
    worker_concurrency: int = Field(default=1, ge=1)
    lease_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=3, ge=1)
    poll_interval_seconds: float = Field(default=1.0, gt=0)
    housekeeping_seconds: float = Field(
        default=60.0, gt=0, description="How often a worker purges deleted and expired files"
    )

    max_prompt_chars: int = 32000
    max_reference_bytes: int = 20 * 1024 * 1024
    max_reference_pixels: int = 40_000_000

    models: list[dict[str, Any]] = Field(
        default_factory=list, description="Catalog entries that extend or replace the defaults"
    )
    channels: list[dict[str, Any]] = Field(
        default_factory=list, description="Upstream servers for the relay engine ([[channels]])"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _config_file()
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'vidgate.db').resolve()}"

    @property
    def resolved_storage_url(self) -> str:
        if self.storage_url:
            return self.storage_url
        return (self.data_dir / "media").resolve().as_uri()

    @property
    def resolved_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    def signing_key(self) -> bytes:
        """The HMAC key for links: configured, or random and kept in data_dir.

        Several API processes must share it: set VIDGATE_SIGNING_SECRET, or share data_dir.
        """
        if self.signing_secret:
            return self.signing_secret.encode()
        path = self.data_dir / "signing.key"
        if not path.exists():
            import secrets

            self.data_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(secrets.token_hex(32))
            tmp.chmod(0o600)
            tmp.replace(path)
        return path.read_text().strip().encode()


def _config_file() -> Path | None:
    import os

    value = os.environ.get("VIDGATE_CONFIG")
    if not value:
        return None
    path = Path(value)
    if not path.is_file():
        raise FileNotFoundError(f"VIDGATE_CONFIG points at {path}, which is not a file")
    # Parse once here so a syntax error names the file instead of surfacing deep in pydantic.
    with path.open("rb") as f:
        tomllib.load(f)
    return path
