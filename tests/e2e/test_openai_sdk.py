"""The official openai SDK, unmodified, with base_url pointed at vidgate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.e2e.helpers import png_bytes
from tests.serverproc import VidgateProcess
from vidgate.media.encode import probe

LEGACY_SDK = Path(sys.prefix) / "openai-legacy"


@pytest.fixture
def client(server: VidgateProcess, api_key: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=api_key,
                       max_retries=0) as client:
        yield client


def test_create_and_poll_then_download_every_variant(client: openai.OpenAI,
                                                     tmp_path: Path) -> None:
    video = client.videos.create_and_poll(model="sora-2", prompt="a paper boat on a river",
                                          seconds="8", size="1280x720", poll_interval_ms=200)
    assert video.status == "completed" and video.progress == 100
    assert video.model == "sora-2" and video.size == "1280x720"
    assert str(video.seconds) == "8"
    mp4 = tmp_path / "v.mp4"
    mp4.write_bytes(client.videos.download_content(video.id).content)
    info = probe(mp4)
    assert (info.width, info.height) == (1280, 720)
    assert info.duration == pytest.approx(8, abs=0.05)
    thumbnail = client.videos.download_content(video.id, variant="thumbnail")
    assert thumbnail.content[:4] == b"RIFF" and thumbnail.content[8:12] == b"WEBP"
    assert thumbnail.response.headers["content-type"] == "image/webp"
    sprites = client.videos.download_content(video.id, variant="spritesheet")
    assert sprites.content[:3] == b"\xff\xd8\xff"
    assert sprites.response.headers["content-type"] == "image/jpeg"


def test_create_with_input_reference_and_retrieve(client: openai.OpenAI, tmp_path: Path) -> None:
    ref = tmp_path / "ref.png"
    ref.write_bytes(png_bytes(720, 1280))
    with ref.open("rb") as f:
        video = client.videos.create(model="sora_video2", prompt="bring it to life",
                                     input_reference=f)
    assert video.status == "queued" and video.size == "720x1280"
    done = client.videos.poll(video.id, poll_interval_ms=200)
    assert done.status == "completed"
    again = client.videos.retrieve(video.id)
    assert again.id == video.id and again.status == "completed"
    # The seed's extra field; the seed's models keep `seconds` an integer, which the SDK
    # carries as it is (its to_dict() would warn that it expected a string).
    assert (again.model_extra or {})["video_url"].startswith("http")
    assert again.seconds == 10  # type: ignore[comparison-overlap]


def test_list_pages_with_cursor(server: VidgateProcess, tmp_path: Path) -> None:
    key = server.create_key("pager")
    with openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=key, max_retries=0) as client:
        _page_through(client)


def _page_through(client: openai.OpenAI) -> None:
    ids = [client.videos.create(model="sora-2", prompt=f"page {n}", seconds="4").id
           for n in range(5)]
    page = client.videos.list(limit=2)
    assert [v.id for v in page.data] == ids[::-1][:2] and page.has_more
    assert [v.id for v in client.videos.list(limit=2)] == ids[::-1]  # auto-pagination
    ascending = client.videos.list(limit=3, order="asc")
    assert [v.id for v in ascending.data] == ids[:3]
    rest = client.videos.list(limit=3, order="asc", after=ids[2])
    assert [v.id for v in rest.data] == ids[3:] and not rest.has_more
    for video_id in ids:
        assert client.videos.delete(video_id).deleted


def test_delete_and_remix(client: openai.OpenAI, tmp_path: Path) -> None:
    original = client.videos.create_and_poll(model="sora-2", prompt="a red kite",
                                             seconds="4", poll_interval_ms=200)
    remix = client.videos.remix(original.id, prompt="a red kite at night")
    assert remix.remixed_from_video_id == original.id
    assert remix.size == original.size and str(remix.seconds) == str(original.seconds)
    done = client.videos.poll(remix.id, poll_interval_ms=200)
    assert done.status == "completed"
    first = tmp_path / "a.mp4"
    second = tmp_path / "b.mp4"
    first.write_bytes(client.videos.download_content(original.id).content)
    second.write_bytes(client.videos.download_content(remix.id).content)
    assert probe(second).duration == pytest.approx(probe(first).duration, abs=0.05)
    assert first.read_bytes() != second.read_bytes()
    deleted = client.videos.delete(original.id)
    assert deleted.id == original.id and deleted.deleted and deleted.object == "video.deleted"
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(original.id)


def test_openai_models_answer_as_openai_did(server: VidgateProcess, api_key: str) -> None:
    """sora-2 answers OpenAI's shapes (whole object, string seconds); seed names the seed's."""
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as http:
        openai_style = http.post("/v1/videos", json={"model": "sora-2", "prompt": "shape",
                                                     "seconds": "8"}).json()
        assert openai_style["seconds"] == "8" and openai_style["progress"] == 0
        assert {"completed_at", "expires_at", "error", "remixed_from_video_id"} <= set(
            openai_style)
        got = http.get(f"/v1/videos/{openai_style['id']}").json()
        assert got["seconds"] == "8"
        seed_style = http.post("/v1/videos", files={"model": (None, "sora_video2"),
                                                    "prompt": (None, "shape")}).json()
        assert seed_style["seconds"] == 10 and seed_style["progress"] is None
        assert "completed_at" not in seed_style
        for video_id in (openai_style["id"], seed_style["id"]):
            http.delete(f"/v1/videos/{video_id}")


def test_errors_surface_as_sdk_exceptions(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.videos.create(model="sora-2", prompt="x", seconds="7")  # type: ignore[arg-type]
    assert exc.value.param == "seconds"  # type: ignore[attr-defined]
    with pytest.raises(openai.BadRequestError):
        client.videos.create(model="no-such-model", prompt="x")
    with pytest.raises(openai.NotFoundError):
        client.videos.download_content("video_missing")
    with (
        openai.OpenAI(base_url=str(client.base_url), api_key="wrong", max_retries=0) as bad,
        pytest.raises(openai.AuthenticationError),
    ):
        bad.videos.list()


@pytest.mark.skipif(not LEGACY_SDK.is_dir() and not os.environ.get("CI"),
                    reason="the legacy SDK is installed by `make test` into .venv/openai-legacy")
def test_legacy_sdk_sends_json_and_works(server: VidgateProcess, api_key: str) -> None:
    assert LEGACY_SDK.is_dir(), "make test installs openai 2.26 into .venv/openai-legacy"
    out = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("legacy_sdk_client.py")),
         f"{server.base_url}/v1", api_key],
        env={**os.environ, "PYTHONPATH": str(LEGACY_SDK)},
        check=True, capture_output=True, text=True, timeout=300).stdout
    seen = json.loads(out)
    assert seen["sdk"].startswith("2.")
    assert seen["created"]["status"] == "queued" and seen["created"]["size"] == "1280x720"
    assert seen["polled"]["status"] == "completed" and seen["polled"]["seconds"] == 10
    assert seen["video_bytes"] > 1000
    assert seen["remix"]["remixed_from_video_id"] == seen["polled"]["id"]
    assert seen["bad_request"]["param"] == "seconds"
