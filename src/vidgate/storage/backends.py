"""`open_storage`: a storage URL (plus S3 options) to a `Storage` over the right store."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from obstore.store import LocalStore, MemoryStore, S3Store

from vidgate.storage.objects import Storage, check_key

if TYPE_CHECKING:
    from obstore.store import ClientConfig, S3Config

_USAGE = "use file:///abs/dir, a directory path, memory:// or s3://bucket[/prefix]"
# S3's bucket naming rules (the common subset every provider accepts).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


@dataclass(frozen=True)
class S3Options:
    """How to reach S3 or an S3-compatible server; None values fall back to AWS's usual
    environment variables and instance credentials (as obstore reads them)."""

    endpoint: str | None = None  # e.g. http://127.0.0.1:8333 ; None = AWS
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = None
    # obstore's default (30 s for a whole request, body included) would cut off a
    # slow client's stream of a large video.
    request_timeout_seconds: float = 600.0
    connect_timeout_seconds: float = 10.0


def open_storage(url: str, s3: S3Options | None = None) -> Storage:
    """The storage a URL names: a local directory (created if missing), memory, or S3.

    Raises ValueError, naming the problem, for a URL that names none of these.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme == "memory":
        if parts.netloc or parts.path.strip("/") or parts.query:
            raise ValueError(f"memory storage takes no location: {url!r} ({_USAGE})")
        return Storage(MemoryStore(), description="memory://")
    if scheme == "s3":
        return _open_s3(url, s3 or S3Options())
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ValueError(f"file URLs need an absolute path, as in file:///srv/media: {url!r}")
        return _open_local(Path(unquote(parts.path)))
    if scheme == "" and url.strip():
        return _open_local(Path(url.strip()).expanduser())
    raise ValueError(f"unsupported storage URL {url!r}: {_USAGE}")


def _open_local(directory: Path) -> Storage:
    root = directory.resolve()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"can't use {str(root)!r} as the storage directory: {exc}") from exc
    # automatic_cleanup removes directories that deletions leave empty, so deleted
    # videos don't leave a skeleton of folders behind.
    store = LocalStore(root, automatic_cleanup=True)
    return Storage(store, description=root.as_uri(), root=root)


def _open_s3(url: str, options: S3Options) -> Storage:
    parts = urlsplit(url.strip())
    bucket, prefix = parts.netloc, parts.path.strip("/")
    if "@" in bucket or parts.query or parts.fragment:
        raise ValueError(
            f"S3 URLs hold only a bucket and a prefix, not credentials or options: {url!r}"
        )
    if not _BUCKET.fullmatch(bucket):
        raise ValueError(f"{bucket!r} is not a valid S3 bucket name in {url!r} ({_USAGE})")
    if prefix:
        try:
            check_key(prefix)
        except ValueError:
            raise ValueError(f"invalid prefix {prefix!r} in S3 URL {url!r}") from None
    if (options.access_key_id is None) != (options.secret_access_key is None):
        raise ValueError("S3 credentials need both an access key id and a secret access key")

    config: S3Config = {"region": options.region}
    client: ClientConfig = {
        "timeout": timedelta(seconds=options.request_timeout_seconds),
        "connect_timeout": timedelta(seconds=options.connect_timeout_seconds),
    }
    if options.endpoint is not None:
        scheme = urlsplit(options.endpoint).scheme.lower()
        if scheme not in ("http", "https"):
            raise ValueError(
                f"S3 endpoint must be an http:// or https:// URL: {options.endpoint!r}"
            )
        config["endpoint"] = options.endpoint.rstrip("/")
        # obstore refuses plain http unless told; an http:// endpoint is that request.
        client["allow_http"] = scheme == "http"
    if options.access_key_id is not None and options.secret_access_key is not None:
        config["access_key_id"] = options.access_key_id
        config["secret_access_key"] = options.secret_access_key

    store = S3Store(bucket, prefix=prefix or None, config=config, client_options=client)
    description = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    return Storage(store, description=description)
