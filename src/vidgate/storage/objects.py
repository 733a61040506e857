"""`Storage`: files by key in one obstore store (a local directory, memory or S3).

Every backend goes through the same obstore calls; the differences that remain are
named here once: a local store can't keep content types (obstore refuses attributes
on `LocalStore`), only a local store has a file path to hand out, and only S3 signs
URLs. Missing objects become `ObjectNotFound` whatever the backend said.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import obstore
from obstore.exceptions import BaseError as ObstoreError
from obstore.store import LocalStore, S3Store

if TYPE_CHECKING:
    from obstore import Attributes, GetOptions, GetResult
    from obstore.store import ObjectStore

# Uploads bigger than one part go multipart, a few parts in flight: memory stays near
# parts x concurrency (~32 MiB) however big the file. S3 wants parts of >= 5 MiB.
_PART_BYTES = 8 * 1024 * 1024
_PART_CONCURRENCY = 4
_DOWNLOAD_CHUNK_BYTES = 8 * 1024 * 1024
# Small enough that an HTTP response starts flowing at once, big enough to be cheap.
_STREAM_CHUNK_BYTES = 1024 * 1024
_DELETE_BATCH = 1000  # S3 DeleteObjects takes at most 1,000 keys per request
_MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4's limit
# Plain characters only, so a key maps to the same file name in every backend and
# `local_path` can be computed without asking obstore how it would escape anything.
_SEGMENT = re.compile(r"[A-Za-z0-9._~=+@,-]+")


class ObjectNotFound(Exception):
    """No object is stored under this key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no object is stored under {key!r}")
        self.key = key


def check_key(key: str) -> str:
    """`key` if it is a valid object key (`a/b/c.ext`: plain segments), else ValueError."""
    segments = key.split("/")
    if not key or not all(_SEGMENT.fullmatch(s) and s not in (".", "..") for s in segments):
        raise ValueError(
            f"invalid storage key {key!r}: use '/'-separated segments of letters, digits "
            "and ._~=+@,- (no empty, '.' or '..' segments, no leading or trailing '/')"
        )
    return key


class Storage:
    """Files by key in one object store; build one with `open_storage`."""

    def __init__(self, store: ObjectStore, *, description: str, root: Path | None = None):
        self._store = store
        self._root = root
        self.description = description
        # obstore's LocalStore raises NotImplementedError when given attributes.
        self._keeps_attributes = not isinstance(store, LocalStore)

    def __repr__(self) -> str:
        return f"Storage({self.description!r})"

    @property
    def store(self) -> ObjectStore:
        """The underlying obstore store, for what this adapter doesn't wrap."""
        return self._store

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        """Upload a local file, streamed from disk (multipart when it is large)."""
        await obstore.put_async(
            self._store,
            check_key(key),
            path,
            attributes=self._attributes(content_type),
            chunk_size=_PART_BYTES,
            max_concurrency=_PART_CONCURRENCY,
        )

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`, replacing any object there."""
        await obstore.put_async(
            self._store,
            check_key(key),
            data,
            attributes=self._attributes(content_type),
            chunk_size=_PART_BYTES,
            max_concurrency=_PART_CONCURRENCY,
        )

    async def get_bytes(self, key: str) -> bytes:
        """The whole object, in memory (for small objects such as reference images)."""
        result = await self._get(key)
        return bytes(await result.bytes_async())

    async def download(self, key: str, path: Path) -> None:
        """Write the object to `path` (whose directory must exist), chunk by chunk.

        The bytes go to a `.part` file renamed into place at the end, so `path` never
        holds half an object; nothing is written when the key is missing.
        """
        result = await self._get(key)
        part = path.with_name(path.name + ".part")
        try:
            file = await asyncio.to_thread(part.open, "wb")
            with file:
                async for chunk in result.stream(min_chunk_size=_DOWNLOAD_CHUNK_BYTES):
                    await asyncio.to_thread(file.write, chunk)
            await asyncio.to_thread(part.replace, path)
        except BaseException:
            await asyncio.to_thread(part.unlink, missing_ok=True)
            raise

    async def stream(
        self, key: str, start: int | None = None, end: int | None = None
    ) -> AsyncIterator[bytes]:
        """The object's bytes in chunks: all of them, or the range [start, end).

        As with an HTTP range, an `end` past the object stops at its end and a range
        that starts at or past the end yields nothing. Missing keys raise
        `ObjectNotFound` on the first iteration.
        """
        check_key(key)
        first = start or 0
        if first < 0 or (end is not None and end < 0):
            raise ValueError(f"byte range [{start}, {end}) has a negative bound")
        if end is not None and end <= first:
            await self.size(key)  # an empty range still needs the object to exist
            return
        options: GetOptions = {}
        if end is not None:
            options["range"] = (first, end)
        elif first:
            options["range"] = {"offset": first}
        try:
            result = await self._get(key, options)
        except ObstoreError:
            # obstore refuses ranges starting past the end (GenericError, or HTTP 416
            # from S3); the object's size tells that apart from a real failure.
            if first >= await self.size(key):
                return
            raise
        async for chunk in result.stream(min_chunk_size=_STREAM_CHUNK_BYTES):
            yield chunk

    async def size(self, key: str) -> int:
        """The object's length in bytes."""
        try:
            meta = await obstore.head_async(self._store, check_key(key))
        except FileNotFoundError:
            raise ObjectNotFound(key) from None
        return meta["size"]

    async def delete_prefix(self, prefix: str) -> None:
        """Delete every object under `prefix` (e.g. "videos/<id>/"); a no-op if none.

        Prefixes match whole segments: "videos/a/" never touches "videos/ab/...".
        """
        base = check_key(prefix.rstrip("/"))
        stream = obstore.list(self._store, base, chunk_size=_DELETE_BATCH)
        paths = [meta["path"] async for batch in stream for meta in batch]
        for i in range(0, len(paths), _DELETE_BATCH):
            await self._delete(paths[i : i + _DELETE_BATCH])

    def local_path(self, key: str) -> Path | None:
        """The object's file when the store is a local directory, else None.

        It lets the API serve the file itself (with HTTP Range support); the file may
        not exist if the object doesn't.
        """
        check_key(key)
        return None if self._root is None else self._root.joinpath(*key.split("/"))

    async def presigned_get_url(self, key: str, expires_in_seconds: int) -> str | None:
        """A URL that fetches the object with no credentials until it expires (S3 only).

        The URL is signed without checking that the object exists; None when the store
        can't sign (local and memory stores).
        """
        check_key(key)
        if not 1 <= expires_in_seconds <= _MAX_PRESIGN_SECONDS:
            raise ValueError(
                f"presigned URLs last 1 to {_MAX_PRESIGN_SECONDS} seconds, not {expires_in_seconds}"
            )
        if not isinstance(self._store, S3Store):
            return None
        return await obstore.sign_async(
            self._store, "GET", key, timedelta(seconds=expires_in_seconds)
        )

    async def close(self) -> None:
        """Let obstore's background threads settle before the process may exit.

        obstore holds no connections to close, but its Tokio threads hand results to
        the event loop a moment after an await returns; if the interpreter finalizes
        in that moment, the process aborts (SIGABRT; seen with obstore 0.12 on Python
        3.11). A short blocking wait releases the GIL so those threads can finish.
        """
        await asyncio.sleep(0.02)

    def _attributes(self, content_type: str) -> Attributes | None:
        return {"Content-Type": content_type} if self._keeps_attributes else None

    async def _get(self, key: str, options: GetOptions | None = None) -> GetResult:
        try:
            return await obstore.get_async(self._store, check_key(key), options=options)
        except FileNotFoundError:
            raise ObjectNotFound(key) from None

    async def _delete(self, paths: Sequence[str]) -> None:
        try:
            await obstore.delete_async(self._store, paths)
        except FileNotFoundError:
            # Someone else deleted some of them first: local stores report that, S3
            # doesn't. Finish the rest one by one.
            for path in paths:
                with contextlib.suppress(FileNotFoundError):
                    await obstore.delete_async(self._store, path)
