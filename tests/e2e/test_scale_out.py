"""Scaled out: one API process and two workers sharing PostgreSQL and S3, nothing else.

Each process has a data directory of its own, so the only things they share are the
database, the bucket and the signing secret, as on separate machines.
"""

from __future__ import annotations

import re
import secrets
import uuid
from pathlib import Path

import httpx
import obstore
import openai
import pytest
from obstore.store import S3Store

from tests.e2e.helpers import png_bytes
from tests.s3server import S3Server
from tests.serverproc import VidgateProcess
from vidgate.media.encode import probe


@pytest.mark.postgres
@pytest.mark.s3
def test_api_and_two_workers_on_postgres_and_s3(
    tmp_path: Path, postgres_url: str, s3_server: S3Server
) -> None:
    prefix = f"scale-{uuid.uuid4().hex[:8]}"
    shared = {
        "VIDGATE_DATABASE_URL": postgres_url,
        "VIDGATE_SIGNING_SECRET": secrets.token_hex(16),
        "VIDGATE_LEASE_SECONDS": "5",
        **s3_server.env(prefix),
    }
    api = VidgateProcess(tmp_path / "api", env=shared, args=("--no-worker",)).start()
    workers = [
        VidgateProcess(tmp_path / f"worker{n}", env=shared, command="worker").start()
        for n in range(2)
    ]
    try:
        key = api.create_key("scale-out")
        with openai.OpenAI(base_url=f"{api.base_url}/v1", api_key=key, max_retries=0) as client:
            _drive(client, tmp_path, prefix, s3_server, workers)
    finally:
        for worker in workers:
            worker.stop()
        api.stop()


def _drive(client: openai.OpenAI, tmp_path: Path, prefix: str, s3_server: S3Server,
           workers: list[VidgateProcess]) -> None:
    reference = tmp_path / "ref.png"
    reference.write_bytes(png_bytes(640, 360))
    with reference.open("rb") as f:
        ids = [client.videos.create(model="sora-2", prompt="from s3", seconds="4",
                                    size="1280x720", input_reference=f).id]
    ids += [client.videos.create(model="sora_video2-landscape", prompt=f"job {n}").id
            for n in range(3)]
    done = [client.videos.poll(video_id, poll_interval_ms=200) for video_id in ids]
    assert [v.status for v in done] == ["completed"] * 4, [v.error for v in done]

    # video_url leads (by a redirect to a presigned S3 URL) to the MP4, no key needed.
    # (model_extra: the SDK's to_dict() warns that the seed's `seconds` is not a string.)
    url = (done[1].model_extra or {})["video_url"]
    response = httpx.get(url, follow_redirects=True, timeout=60)
    assert response.status_code == 200, response.text
    assert response.history and response.history[0].status_code == 302
    assert response.url.host == "127.0.0.1" and f"/{prefix}/videos/" in response.url.path
    mp4 = tmp_path / "landscape.mp4"
    mp4.write_bytes(response.content)
    info = probe(mp4)
    assert (info.width, info.height, info.duration) == (1280, 720, 10.0)
    # The SDK follows the same redirect from /content.
    first = tmp_path / "first.mp4"
    first.write_bytes(client.videos.download_content(ids[0]).content)
    assert probe(first).duration == pytest.approx(4, abs=0.05)

    # Every job ran exactly once, somewhere among the workers.
    completions = [
        found for w in workers for found in re.findall(r"(video_\S+) completed", w.log())
    ]
    assert sorted(completions) == sorted(ids)

    # Deleting removes the video's objects from the bucket.
    client.videos.delete(ids[1])
    store = S3Store(
        s3_server.bucket, endpoint=s3_server.endpoint, region=s3_server.region,
        access_key_id=s3_server.access_key_id,
        secret_access_key=s3_server.secret_access_key,
        client_options={"allow_http": True})  # fmt: skip
    remaining = [
        meta["path"]
        for batch in obstore.list(store, f"{prefix}/videos/{ids[1]}")
        for meta in batch
    ]
    assert remaining == []
    kept = [m["path"] for b in obstore.list(store, f"{prefix}/videos/{ids[0]}") for m in b]
    assert any(p.endswith("video.mp4") for p in kept)
