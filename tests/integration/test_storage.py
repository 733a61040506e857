"""The storage adapter, one behaviour suite over a local directory, memory and real S3."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import obstore
import pytest

from tests.s3server import S3Server
from vidgate.storage import ObjectNotFound, S3Options, Storage, open_storage

KEY = "videos/video_0001/1/video.mp4"


def _s3_options(server: S3Server) -> S3Options:
    return S3Options(
        endpoint=server.endpoint,
        region=server.region,
        access_key_id=server.access_key_id,
        secret_access_key=server.secret_access_key,
    )


@pytest.fixture(params=["local", "memory", pytest.param("s3", marks=pytest.mark.s3)])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    """A fresh, empty storage; on S3 a prefix of its own in the session's bucket."""
    if request.param == "local":
        opened = open_storage((tmp_path / "media").as_uri())
    elif request.param == "memory":
        opened = open_storage("memory://")
    else:
        server: S3Server = request.getfixturevalue("s3_server")
        prefix = f"test-{uuid.uuid4().hex[:12]}"
        opened = open_storage(server.storage_url(prefix), _s3_options(server))
    yield opened
    await opened.close()


def _is_s3(storage: Storage) -> bool:
    return storage.description.startswith("s3://")


async def _collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def test_put_and_get_bytes(storage: Storage) -> None:
    await storage.put_bytes(KEY, b"first", "video/mp4")
    assert await storage.get_bytes(KEY) == b"first"
    await storage.put_bytes(KEY, b"second, longer", "video/mp4")  # replaces
    assert await storage.get_bytes(KEY) == b"second, longer"
    await storage.put_bytes("videos/empty/x.bin", b"", "application/octet-stream")
    assert await storage.get_bytes("videos/empty/x.bin") == b""


async def test_put_file_round_trip_of_a_multipart_sized_file(
    storage: Storage, tmp_path: Path
) -> None:
    data = os.urandom(12 * 1024 * 1024)  # bigger than one 8 MiB part
    source = tmp_path / "source.mp4"
    source.write_bytes(data)
    await storage.put_file(KEY, source, "video/mp4")

    assert await storage.size(KEY) == len(data)
    target = tmp_path / "downloaded.mp4"
    await storage.download(KEY, target)
    assert target.read_bytes() == data
    assert not target.with_name("downloaded.mp4.part").exists()
    assert await _collect(storage.stream(KEY)) == data
    if _is_s3(storage):
        # S3 marks a multipart object's ETag with its part count.
        meta = await obstore.head_async(storage.store, KEY)
        assert (meta["e_tag"] or "").strip('"').endswith("-2")


async def test_stream_byte_ranges(storage: Storage) -> None:
    data = bytes(range(256)) * 40  # 10,240 bytes
    await storage.put_bytes(KEY, data, "video/mp4")

    assert await _collect(storage.stream(KEY, 100, 200)) == data[100:200]
    assert await _collect(storage.stream(KEY, start=10_000)) == data[10_000:]
    assert await _collect(storage.stream(KEY, end=7)) == data[:7]
    assert await _collect(storage.stream(KEY, 10_000, 99_999)) == data[10_000:]  # clamped
    assert await _collect(storage.stream(KEY, start=len(data))) == b""  # past the end
    assert await _collect(storage.stream(KEY, 50, 50)) == b""  # empty range
    with pytest.raises(ValueError, match="negative"):
        await _collect(storage.stream(KEY, -1, 5))


async def test_content_type_is_kept_where_the_store_can_keep_it(storage: Storage) -> None:
    await storage.put_bytes("videos/v/1/thumbnail.webp", b"RIFF....WEBP", "image/webp")
    result = await obstore.get_async(storage.store, "videos/v/1/thumbnail.webp")
    expected = {} if storage.local_path(KEY) else {"Content-Type": "image/webp"}
    assert result.attributes == expected  # obstore's LocalStore keeps no attributes


async def test_missing_keys_raise_object_not_found(storage: Storage, tmp_path: Path) -> None:
    missing = "videos/nothing/1/video.mp4"
    with pytest.raises(ObjectNotFound, match="videos/nothing"):
        await storage.get_bytes(missing)
    with pytest.raises(ObjectNotFound):
        await storage.size(missing)
    with pytest.raises(ObjectNotFound):
        await _collect(storage.stream(missing))
    with pytest.raises(ObjectNotFound):
        await _collect(storage.stream(missing, 10, 20))
    with pytest.raises(ObjectNotFound):
        await _collect(storage.stream(missing, 5, 5))
    target = tmp_path / "never.mp4"
    with pytest.raises(ObjectNotFound):
        await storage.download(missing, target)
    assert not target.exists()
    assert not target.with_name("never.mp4.part").exists()


async def test_delete_prefix_removes_only_that_prefix(storage: Storage) -> None:
    doomed = ["videos/a/reference.png", "videos/a/1/video.mp4", "videos/a/1/thumbnail.webp"]
    kept = ["videos/ab/1/video.mp4", "videos/b/1/video.mp4", "videosa/1/video.mp4"]
    for key in doomed + kept:
        await storage.put_bytes(key, key.encode(), "application/octet-stream")

    await storage.delete_prefix("videos/a/")

    for key in doomed:
        with pytest.raises(ObjectNotFound):
            await storage.size(key)
    for key in kept:
        assert await storage.get_bytes(key) == key.encode()
    await storage.delete_prefix("videos/a/")  # nothing left: a no-op
    with pytest.raises(ValueError):
        await storage.delete_prefix("/")  # never "everything"
    local = storage.local_path("videos/a/1/video.mp4")
    if local is not None:
        assert not local.parent.parent.exists()  # no empty folders left behind


async def test_local_path_only_for_a_local_directory(storage: Storage, tmp_path: Path) -> None:
    await storage.put_bytes(KEY, b"bytes on disk", "video/mp4")
    path = storage.local_path(KEY)
    if storage.description.startswith("file://"):
        assert path == tmp_path / "media" / "videos" / "video_0001" / "1" / "video.mp4"
        assert path.read_bytes() == b"bytes on disk"
    else:
        assert path is None


@pytest.mark.parametrize("key", ["", "/abs/x", "a//b", "a/../b", "./a", "a/", "a b", "a\\b"])
async def test_invalid_keys_are_refused(storage: Storage, key: str) -> None:
    with pytest.raises(ValueError, match="invalid storage key"):
        await storage.put_bytes(key, b"x", "text/plain")
    with pytest.raises(ValueError, match="invalid storage key"):
        storage.local_path(key)


async def test_presigned_url_downloads_without_credentials(storage: Storage) -> None:
    files = {
        "videos/v/1/video.mp4": ("video/mp4", os.urandom(300_000)),
        "videos/v/1/thumbnail.webp": ("image/webp", b"RIFF\x00\x00\x00\x00WEBPVP8 "),
        "videos/v/1/spritesheet.jpg": ("image/jpeg", b"\xff\xd8\xff\xe0 jpeg"),
    }
    for key, (content_type, data) in files.items():
        await storage.put_bytes(key, data, content_type)
    if not _is_s3(storage):
        assert await storage.presigned_get_url(KEY, 60) is None
        return

    async with httpx.AsyncClient() as client:  # no credentials of any kind
        for key, (content_type, data) in files.items():
            url = await storage.presigned_get_url(key, 60)
            assert url is not None
            response = await client.get(url)
            assert response.status_code == 200, response.text
            assert response.headers["content-type"] == content_type
            assert response.content == data
        # Browsers seek in videos with Range requests; the signature allows them.
        url = await storage.presigned_get_url("videos/v/1/video.mp4", 60)
        assert url is not None
        ranged = await client.get(url, headers={"Range": "bytes=1000-1999"})
        assert ranged.status_code == 206
        assert ranged.content == files["videos/v/1/video.mp4"][1][1000:2000]
    with pytest.raises(ValueError):
        await storage.presigned_get_url(KEY, 0)


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.mark.s3
async def test_s3_refuses_expired_or_tampered_presigned_urls(s3_server: S3Server) -> None:
    storage = open_storage(s3_server.storage_url(f"test-{uuid.uuid4().hex[:12]}"),
                           _s3_options(s3_server))  # fmt: skip
    await storage.put_bytes(KEY, b"secret video", "video/mp4")
    await storage.put_bytes("videos/other/1/video.mp4", b"other video", "video/mp4")
    url = await storage.presigned_get_url(KEY, 60)
    short = await storage.presigned_get_url(KEY, 1)
    assert url is not None and short is not None
    signature = dict(parse_qsl(urlsplit(url).query))["X-Amz-Signature"]

    async with httpx.AsyncClient() as client:
        assert (await client.get(url)).status_code == 200
        tampered = [
            _with_query(url, **{"X-Amz-Signature": signature[::-1]}),
            _with_query(url, **{"X-Amz-Expires": "604800"}),  # stretching the lifetime
            url.replace("video_0001", "other"),  # another object, same signature
            _with_query(url, **{"response-content-type": "text/html"}),
        ]
        for forged in tampered:
            response = await client.get(forged)
            assert response.status_code == 403, (forged, response.text)
        # SigV4 times are whole seconds: past 2 s, a 1-second URL has certainly expired.
        await asyncio.sleep(2.1)
        expired = await client.get(short)
        assert expired.status_code == 403
        assert "expired" in expired.text.lower()
    await storage.close()


def test_open_storage_understands_its_urls(tmp_path: Path) -> None:
    nested = tmp_path / "a dir" / "media"
    local = open_storage(nested.as_uri())  # percent-encoded, created on the way
    assert nested.is_dir()
    assert local.local_path("x/y.mp4") == nested / "x" / "y.mp4"
    plain = open_storage(str(tmp_path / "plain"))
    assert plain.local_path("k") == tmp_path / "plain" / "k"
    assert open_storage("memory://").local_path("k") is None
    s3 = open_storage("s3://my-bucket/some/prefix", S3Options(endpoint="http://127.0.0.1:1"))
    assert s3.description == "s3://my-bucket/some/prefix"
    assert open_storage("s3://my-bucket").description == "s3://my-bucket"


@pytest.mark.parametrize(
    ("url", "options", "message"),
    [
        ("", None, "unsupported storage URL"),
        ("ftp://host/dir", None, "unsupported storage URL"),
        ("file://relative/dir", None, "absolute path"),
        ("memory://somewhere", None, "no location"),
        ("s3://", None, "not a valid S3 bucket"),
        ("s3://Bad_Bucket", None, "not a valid S3 bucket"),
        ("s3://key:secret@bucket", None, "not credentials"),
        ("s3://bucket/a//b", None, "invalid prefix"),
        ("s3://bucket", S3Options(endpoint="ftp://x"), "http:// or https://"),
        ("s3://bucket", S3Options(access_key_id="only-id"), "both"),
    ],
)
def test_open_storage_refuses_bad_urls(url: str, options: S3Options | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_storage(url, options)
