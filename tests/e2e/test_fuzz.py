"""No request can produce a 500: generated requests of every shape against a real server.

Each answer is either a success or a 4xx in the OpenAI error envelope, and never a status
the SDK retries (408/409/429) for a request that can't succeed.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.helpers import auth, png_bytes
from tests.serverproc import VidgateProcess

FIELDS = ["model", "prompt", "size", "seconds", "input_reference", "characters[][id]", "n"]
MODELS = ["sora_video2", "sora_video2-landscape-hd-25s", "sora-2", "sora-2-pro", "x", ""]
TEXT = st.one_of(
    st.sampled_from([*MODELS, "720x1280", "1280x720", "0x0", "4", "8", "-1", "99999999999",
                     "data:image/png;base64,AAAA", "http://example.com/a.png"]),
    st.text(max_size=40),
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT
    | st.floats(allow_nan=False, allow_infinity=False),  # what JSON can carry
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _check(response: httpx.Response, created: list[str]) -> None:
    assert response.status_code < 500, (response.status_code, response.text)
    assert response.status_code not in (408, 409, 429), response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"} and error["message"]
    elif response.request.method == "POST" and response.request.url.path.endswith("/videos"):
        created.append(response.json()["id"])


def _clean_up(client: httpx.Client, key: str, created: list[str]) -> None:
    for video_id in created:  # don't leave the worker rendering what fuzzing made
        client.delete(f"/v1/videos/{video_id}", headers=auth(key))
    created.clear()


@SETTINGS
@given(
    kind=st.sampled_from(["multipart", "json", "form", "text", "none"]),
    fields=st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), JSON, max_size=6),
    image=st.sampled_from([None, b"", b"\x89PNG\r\n\x1a\n", png_bytes(16, 16), b"GIF89a"]),
)
def test_create_never_fails_with_a_server_error(
    server: VidgateProcess, api_key: str, kind: str, fields: dict[str, Any], image: bytes | None
) -> None:
    created: list[str] = []
    headers = auth(api_key)
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        if kind == "json":
            response = client.post("/v1/videos", headers=headers, json=fields)
        elif kind == "multipart":
            files: dict[str, Any] = {
                k: (None, v if isinstance(v, str) else json.dumps(v)) for k, v in fields.items()
            }
            if image is not None:
                files["input_reference"] = ("ref.png", image, "image/png")
            response = client.post("/v1/videos", headers=headers, files=files)
        elif kind == "form":
            response = client.post("/v1/videos", headers=headers,
                                   data={k: str(v) for k, v in fields.items()})
        else:
            content = json.dumps(fields).encode()
            extra = {"content-type": "text/plain"} if kind == "text" else {}
            response = client.post("/v1/videos", headers={**headers, **extra}, content=content)
        _check(response, created)
        _clean_up(client, api_key, created)


@SETTINGS
@given(
    video_id=st.text(min_size=1, max_size=60),
    query=st.dictionaries(st.sampled_from(["after", "limit", "order", "variant", "expires", "sig"]),
                          TEXT | st.integers().map(str), max_size=3),
    body=JSON,
)
def test_lookups_never_fail_with_a_server_error(
    server: VidgateProcess, api_key: str, video_id: str, query: dict[str, str], body: Any
) -> None:
    created: list[str] = []
    path = f"/v1/videos/{quote(video_id, safe='')}"
    with httpx.Client(base_url=server.base_url, timeout=30, headers=auth(api_key)) as client:
        for method, url, kwargs in (
            ("GET", "/v1/videos", {"params": query}),
            ("GET", path, {}),
            ("GET", f"{path}/content", {"params": query}),
            ("POST", f"{path}/remix", {"json": body}),
            ("DELETE", path, {}),
            ("GET", f"/files/{quote(video_id, safe='')}/video.mp4", {"params": query}),
            ("GET", f"/v1/models/{quote(video_id, safe='')}", {}),
        ):
            _check(client.request(method, url, **kwargs), created)
