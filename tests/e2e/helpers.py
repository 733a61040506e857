"""Small helpers for driving a running server over HTTP."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

SEED_CREATE_FIELDS = {"id", "object", "model", "status", "progress", "created_at", "seconds",
                      "size"}
SEED_QUERY_FIELDS = {"completed_at", "created_at", "error", "expires_at", "id", "model",
                     "object", "progress", "remixed_from_video_id", "seconds", "size",
                     "status", "video_url"}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def wait_for(client: httpx.Client, video_id: str, key: str, *, timeout: float = 120,
             seen: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Poll until the video is completed or failed; every answer goes to `seen`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(f"/v1/videos/{video_id}", headers=auth(key))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if seen is not None:
            seen.append(body)
        if body["status"] in ("completed", "failed"):
            return body
        time.sleep(0.1)
    raise AssertionError(f"{video_id} did not finish in {timeout} s")


def png_bytes(width: int = 320, height: int = 240, colour: tuple[int, int, int] = (200, 40, 40),
              fmt: str = "PNG") -> bytes:
    """A test image: a coloured field with a contrasting block, so crops are checkable."""
    image = Image.new("RGB", (width, height), colour)
    image.paste((20, 20, 220), (width // 4, height // 4, width // 2, height // 2))
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def save(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def toml_value(value: Any) -> str:
    """A value as TOML, for the config files tests write (dicts as inline tables)."""
    if isinstance(value, dict):
        pairs = (f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items())
        return "{ " + ", ".join(pairs) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)  # JSON spells strings, numbers and booleans as TOML does
