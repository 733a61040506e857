"""Bad input is a 4xx in the OpenAI envelope naming the field; keys isolate videos."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.helpers import auth, png_bytes, wait_for
from tests.serverproc import VidgateProcess

RETRIED_BY_SDK = {408, 409, 429}


@pytest.fixture
def client(server: VidgateProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


def _check_envelope(response: httpx.Response, status: int, param: str | None) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.status_code not in RETRIED_BY_SDK and response.status_code < 500
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"] and isinstance(error["message"], str)
    assert error["param"] == param, error
    return error


CASES: list[tuple[str, dict[str, Any], int, str | None]] = [
    ("unknown model", {"data": {"model": "sora_video9", "prompt": "x"}}, 400, "model"),
    ("missing prompt", {"data": {"model": "sora_video2"}}, 400, "prompt"),
    ("empty prompt", {"data": {"model": "sora_video2", "prompt": "   "}}, 400, "prompt"),
    ("prompt too long", {"data": {"model": "sora_video2", "prompt": "x" * 32001}}, 400, "prompt"),
    ("duration the model lacks", {"data": {"model": "sora_video2", "prompt": "x",
                                           "seconds": "15"}}, 400, "seconds"),
    ("size the model lacks", {"data": {"model": "sora_video2", "prompt": "x",
                                       "size": "1280x720"}}, 400, "size"),
    ("seconds not a number", {"data": {"model": "sora-2", "prompt": "x", "seconds": "ten"}},
     400, "seconds"),
    ("size not WxH", {"data": {"model": "sora-2", "prompt": "x", "size": "huge"}}, 400, "size"),
    ("malformed JSON", {"content": b"{nope", "headers": {"content-type": "application/json"}},
     400, None),
    ("JSON array", {"json": ["prompt"]}, 400, None),
    ("prompt of wrong type", {"json": {"model": "sora-2", "prompt": 5}}, 400, "prompt"),
    ("seconds of wrong type", {"json": {"model": "sora-2", "prompt": "x", "seconds": True}},
     400, "seconds"),
    ("seconds a float", {"json": {"model": "sora-2", "prompt": "x", "seconds": 4.5}},
     400, "seconds"),
    ("file_id reference", {"json": {"prompt": "x", "input_reference": {"file_id": "f"}}},
     400, "input_reference"),
    ("URL reference", {"json": {"prompt": "x",
                                "input_reference": {"image_url": "http://h/x.png"}}},
     400, "input_reference"),
    ("bad data URL", {"json": {"prompt": "x",
                               "input_reference": {"image_url": "data:image/png;base64,@@"}}},
     400, "input_reference"),
    ("wrong content type", {"content": b"prompt=x", "headers": {"content-type": "text/plain"}},
     400, "Content-Type"),
]


@pytest.mark.parametrize(("name", "request_kwargs", "status", "param"), CASES,
                         ids=[c[0] for c in CASES])
def test_bad_create_requests(client: httpx.Client, api_key: str, name: str,
                             request_kwargs: dict[str, Any], status: int,
                             param: str | None) -> None:
    headers = {**auth(api_key), **request_kwargs.pop("headers", {})}
    response = client.post("/v1/videos", headers=headers, **request_kwargs)
    _check_envelope(response, status, param)


def test_oversized_and_bomb_uploads(client: httpx.Client, api_key: str) -> None:
    big = b"\x89PNG" + b"\0" * (21 * 1024 * 1024)
    response = client.post("/v1/videos", headers=auth(api_key),
                           files={"model": (None, "sora_video2"), "prompt": (None, "x"),
                                  "input_reference": ("big.png", big, "image/png")})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    # 9000 x 9000 pixels in a few hundred kilobytes: refused before it is decoded.
    bomb = png_bytes(9000, 9000)
    response = client.post("/v1/videos", headers=auth(api_key),
                           files={"model": (None, "sora_video2"), "prompt": (None, "x"),
                                  "input_reference": ("bomb.png", bomb, "image/png")})
    _check_envelope(response, 400, "input_reference")


def test_missing_and_wrong_keys_are_401(client: httpx.Client) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        for method, path in (("POST", "/v1/videos"), ("GET", "/v1/videos"),
                             ("GET", "/v1/videos/video_x"), ("DELETE", "/v1/videos/video_x"),
                             ("GET", "/v1/videos/video_x/content"), ("GET", "/v1/models")):
            response = client.request(method, path, headers=headers)
            _check_envelope(response, 401, None)


def test_other_lookups(client: httpx.Client, api_key: str) -> None:
    _check_envelope(client.get("/v1/videos/video_nope", headers=auth(api_key)), 404, "video_id")
    _check_envelope(client.delete("/v1/videos/video_nope", headers=auth(api_key)), 404,
                    "video_id")
    _check_envelope(client.get("/v1/videos?limit=0", headers=auth(api_key)), 400, "limit")
    _check_envelope(client.get("/v1/videos?limit=x", headers=auth(api_key)), 400, "limit")
    _check_envelope(client.get("/v1/videos?order=up", headers=auth(api_key)), 400, "order")
    _check_envelope(client.get("/v1/videos?after=video_nope", headers=auth(api_key)), 400,
                    "after")
    _check_envelope(client.get("/v1/nothing-here", headers=auth(api_key)), 404, None)
    _check_envelope(client.post("/v1/videos/edits", headers=auth(api_key)), 404, None)
    malformed = client.post("/v1/videos/video_x/remix", content=b"{",
                            headers={**auth(api_key), "content-type": "application/json"})
    assert malformed.status_code == 400 and set(malformed.json()["error"]) == {
        "message", "type", "param", "code"}


def test_content_and_remix_wait_for_completion(client: httpx.Client, api_key: str) -> None:
    created = client.post("/v1/videos", headers=auth(api_key),
                          data={"model": "sora_video2-landscape-hd-25s", "prompt": "slow"}).json()
    content = client.get(f"/v1/videos/{created['id']}/content", headers=auth(api_key))
    _check_envelope(content, 404, "video_id")
    bad_variant = client.get(f"/v1/videos/{created['id']}/content?variant=gif",
                             headers=auth(api_key))
    _check_envelope(bad_variant, 400, "variant")
    remix = client.post(f"/v1/videos/{created['id']}/remix", headers=auth(api_key),
                        json={"prompt": "again"})
    _check_envelope(remix, 400, "video_id")
    client.delete(f"/v1/videos/{created['id']}", headers=auth(api_key))


def test_keys_see_only_their_own_videos(client: httpx.Client, api_key: str,
                                        server: VidgateProcess) -> None:
    other = server.create_key("someone-else")
    created = client.post("/v1/videos", headers=auth(api_key),
                          data={"model": "sora-2", "prompt": "mine", "seconds": "4"}).json()
    done = wait_for(client, created["id"], api_key)
    video_id = done["id"]
    for method, path, kwargs in (
        ("GET", f"/v1/videos/{video_id}", {}),
        ("GET", f"/v1/videos/{video_id}/content", {}),
        ("POST", f"/v1/videos/{video_id}/remix", {"json": {"prompt": "theirs"}}),
        ("DELETE", f"/v1/videos/{video_id}", {}),
    ):
        response = client.request(method, path, headers=auth(other), **kwargs)
        _check_envelope(response, 404, "video_id")
    listed = client.get("/v1/videos?limit=100", headers=auth(other)).json()
    assert video_id not in {v["id"] for v in listed["data"]}
    # Still there for its owner.
    assert client.get(f"/v1/videos/{video_id}", headers=auth(api_key)).status_code == 200


def test_revoked_key_is_refused(client: httpx.Client, server: VidgateProcess) -> None:
    import subprocess
    import sys

    key = server.create_key("short-lived")
    assert client.get("/v1/models", headers=auth(key)).status_code == 200
    listing = subprocess.run([sys.executable, "-m", "vidgate", "keys", "list"], env=server.env,
                             check=True, capture_output=True, text=True).stdout
    line = next(ln for ln in listing.splitlines() if ln.split()[1].startswith(key[:10]))
    assert key not in listing  # the secret is never shown again
    subprocess.run([sys.executable, "-m", "vidgate", "keys", "revoke", line.split()[0]],
                   env=server.env, check=True, capture_output=True)
    _check_envelope(client.get("/v1/models", headers=auth(key)), 401, None)


def test_delete_cancels_a_running_job(client: httpx.Client, api_key: str,
                                      server: VidgateProcess) -> None:
    created = client.post("/v1/videos", headers=auth(api_key),
                          data={"model": "sora_video2-landscape-hd-25s",
                                "prompt": "long enough to be cancelled"}).json()
    video_id = created["id"]
    deadline = time.monotonic() + 120
    while client.get(f"/v1/videos/{video_id}", headers=auth(api_key)).json()["status"] == "queued":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    deleted = client.delete(f"/v1/videos/{video_id}", headers=auth(api_key))
    assert deleted.json() == {"id": video_id, "object": "video.deleted", "deleted": True}
    assert client.get(f"/v1/videos/{video_id}", headers=auth(api_key)).status_code == 404
    db = sqlite3.connect(server.data_dir / "vidgate.db")
    deadline = time.monotonic() + 30
    while True:
        status, code = db.execute("SELECT status, error_code FROM videos WHERE id = ?",
                                  (video_id,)).fetchone()
        if status == "failed":
            break
        assert time.monotonic() < deadline, "the worker did not stop the deleted job"
        time.sleep(0.2)
    assert code == "cancelled"
    media = server.data_dir / "media" / "videos" / video_id
    deadline = time.monotonic() + 10
    while any(p.name.endswith(".mp4") for p in media.rglob("*")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(p.name.endswith(".mp4") for p in media.rglob("*"))
