"""The seed's API exactly as its curl examples use it: multipart create, then query."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.e2e.helpers import (
    SEED_CREATE_FIELDS,
    SEED_QUERY_FIELDS,
    auth,
    png_bytes,
    wait_for,
)
from tests.serverproc import VidgateProcess
from vidgate.media.encode import probe
from vidgate.media.images import fit_to_size
from vidgate.media.posters import first_frame

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
def client(server: VidgateProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


def test_create_and_query_like_the_seed(
    client: httpx.Client, api_key: str, server: VidgateProcess, tmp_path: Path
) -> None:
    response = client.post("/v1/videos", headers=auth(api_key),
                           files={"model": (None, "sora_video2-landscape"),
                                  "prompt": (None, "制作成动画")})
    assert response.status_code == 200, response.text
    created = response.json()
    assert set(created) == SEED_CREATE_FIELDS
    assert re.fullmatch(f"video_{UUID}", created["id"])
    assert created["object"] == "video" and created["model"] == "sora_video2-landscape"
    assert created["status"] == "queued" and created["progress"] is None
    assert created["seconds"] == 10 and created["size"] == "1280x720"
    assert abs(created["created_at"] - time.time()) < 60

    seen: list[dict[str, Any]] = []
    done = wait_for(client, created["id"], api_key, seen=seen)
    assert all(set(body) == SEED_QUERY_FIELDS for body in seen)
    statuses = [b["status"] for b in seen]
    assert set(statuses) <= {"queued", "in_progress", "completed"}
    assert statuses[-1] == "completed"
    progress = [b["progress"] for b in seen]
    assert progress == sorted(progress) and progress[-1] == 100
    assert any(0 < p < 100 for p in progress), f"no progress reported while rendering: {progress}"
    assert done["error"] is None and done["remixed_from_video_id"] is None
    assert done["completed_at"] >= done["created_at"]
    # Retention defaults to 7 days.
    assert abs(done["expires_at"] - (done["completed_at"] + 7 * 24 * 3600)) <= 2

    url = done["video_url"]
    assert url.startswith(server.base_url + "/files/")
    download = httpx.get(url, timeout=30)  # no Authorization header
    assert download.status_code == 200
    assert download.headers["content-type"] == "video/mp4"
    mp4 = tmp_path / "v.mp4"
    mp4.write_bytes(download.content)
    info = probe(mp4)
    assert (info.width, info.height) == (1280, 720)
    assert info.duration == pytest.approx(10, abs=0.05)
    assert info.codec == "h264" and info.pix_fmt == "yuv420p"
    # Browsers seek with Range requests.
    partial = httpx.get(url, headers={"Range": "bytes=0-99"}, timeout=30)
    assert partial.status_code == 206 and partial.content == download.content[:100]


def test_signed_link_refuses_tampering(client: httpx.Client, api_key: str) -> None:
    created = client.post("/v1/videos", headers=auth(api_key),
                          data={"model": "sora-2", "prompt": "tamper", "seconds": "4"}).json()
    url = wait_for(client, created["id"], api_key)["video_url"]
    sig = re.search(r"sig=([0-9a-f]+)", url)
    assert sig is not None
    forged = url.replace(sig.group(1), "0" * len(sig.group(1)))
    assert httpx.get(forged).status_code == 403
    later = re.sub(r"expires=(\d+)", lambda m: f"expires={int(m.group(1)) + 1}", url)
    response = httpx.get(later)
    assert response.status_code == 403 and response.json()["error"]["param"] == "sig"
    assert httpx.get(url.replace("video.mp4", "thumbnail.webp")).status_code == 403


def test_expired_link_and_content_are_refused(tmp_path: Path) -> None:
    proc = VidgateProcess(tmp_path / "short", env={"VIDGATE_RETENTION_SECONDS": "3"}).start()
    try:
        key = proc.create_key()
        with httpx.Client(base_url=proc.base_url, timeout=30) as client:
            created = client.post("/v1/videos", headers=auth(key),
                                  data={"model": "sora-2", "prompt": "brief", "seconds": "4"})
            done = wait_for(client, created.json()["id"], key)
            assert done["expires_at"] - done["completed_at"] == 3
            assert httpx.get(done["video_url"]).status_code == 200
            time.sleep(max(0.0, done["expires_at"] - time.time()) + 1.1)
            late = httpx.get(done["video_url"])
            assert late.status_code == 403
            assert late.json()["error"]["code"] == "link_expired"
            content = client.get(f"/v1/videos/{done['id']}/content", headers=auth(key))
            assert content.status_code == 404
            assert content.json()["error"]["code"] == "video_expired"
    finally:
        proc.stop()


def test_every_seed_model_delivers_its_size_and_duration(
    client: httpx.Client, api_key: str, tmp_path: Path
) -> None:
    from tests.unit.test_catalog import SEED

    ids = {}
    for model in SEED:
        response = client.post("/v1/videos", headers=auth(api_key),
                               files={"model": (None, model), "prompt": (None, model)})
        assert response.status_code == 200, response.text
        ids[model] = response.json()["id"]
    for model, video_id in ids.items():
        done = wait_for(client, video_id, api_key, timeout=600)
        assert done["status"] == "completed", done
        size, seconds = SEED[model]
        assert (done["size"], done["seconds"]) == (size, seconds)
        mp4 = tmp_path / f"{model}.mp4"
        mp4.write_bytes(httpx.get(done["video_url"], timeout=60).content)
        info = probe(mp4)
        assert f"{info.width}x{info.height}" == size, model
        assert info.duration == pytest.approx(seconds, abs=0.05), model


def test_reference_image_becomes_the_first_frame(
    client: httpx.Client, api_key: str, tmp_path: Path
) -> None:
    image = png_bytes(400, 300)
    response = client.post("/v1/videos", headers=auth(api_key),
                           files={"model": (None, "sora-2"), "prompt": (None, "animate"),
                                  "seconds": (None, "4"), "size": (None, "1280x720"),
                                  "input_reference": ("ref.png", image, "image/png")})
    assert response.status_code == 200, response.text
    done = wait_for(client, response.json()["id"], api_key)
    mp4 = tmp_path / "ref.mp4"
    mp4.write_bytes(httpx.get(done["video_url"]).content)
    frame = np.asarray(first_frame(mp4), dtype=np.float32)
    ref_path = tmp_path / "ref.png"
    ref_path.write_bytes(image)
    expected = np.asarray(fit_to_size(Image.open(ref_path).convert("RGB"), 1280, 720),
                          dtype=np.float32)
    # Compare above the caption band, where the frame is the reference itself.
    top = slice(0, 720 * 2 // 3)
    assert np.abs(frame[top] - expected[top]).mean() < 12


def test_reference_must_be_an_image_not_a_link(client: httpx.Client, api_key: str) -> None:
    for files in (
        {"input_reference": (None, "https://example.com/cat.png")},
        {"input_reference": ("cat.png", b"this is not an image", "image/png")},
        {"input_reference": ("cat.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "image/gif")},
    ):
        response = client.post("/v1/videos", headers=auth(api_key),
                               files={"model": (None, "sora_video2"), "prompt": (None, "x"),
                                      **files})
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["param"] == "input_reference"
        assert error["type"] == "invalid_request_error"


def test_jpeg_and_webp_references_are_accepted(client: httpx.Client, api_key: str) -> None:
    for fmt, mime in (("JPEG", "image/jpeg"), ("WEBP", "image/webp")):
        response = client.post("/v1/videos", headers=auth(api_key),
                               files={"model": (None, "sora-2"), "prompt": (None, fmt),
                                      "seconds": (None, "4"),
                                      "input_reference": (f"r.{fmt}", png_bytes(fmt=fmt), mime)})
        assert response.status_code == 200, response.text
        assert wait_for(client, response.json()["id"], api_key)["status"] == "completed"


def test_openapi_describes_the_seed_schemas(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/v1/videos", "/v1/videos/{video_id}", "/v1/videos/{video_id}/content",
            "/v1/videos/{video_id}/remix", "/v1/models"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert set(schemas["CreatedVideo"]["properties"]) == SEED_CREATE_FIELDS
    assert set(schemas["VideoObject"]["properties"]) == SEED_QUERY_FIELDS
    body = spec["paths"]["/v1/videos"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in body and "application/json" in body
    assert client.get("/healthz").json()["status"] == "ok"


def test_models_lists_the_catalog(client: httpx.Client, api_key: str) -> None:
    models = client.get("/v1/models", headers=auth(api_key)).json()
    ids = {m["id"] for m in models["data"]}
    assert {"sora_video2", "sora_video2-landscape-hd-25s", "sora-2", "sora-2-pro"} <= ids
    one = client.get("/v1/models/sora_video2-portrait-hd", headers=auth(api_key)).json()
    assert one["sizes"] == ["1024x1792"] and one["seconds"] == [10]
