"""A misbehaving upstream for the relay tests: a small real HTTP server (uvicorn).

    python -m tests.fakeupstream PORT

It speaks the OpenAI dialect under `/{mode}/v1`, and `mode` says how it misbehaves:

- `ok`: a well-behaved server; videos complete after two polls (a tiny real MP4)
- `error500`: every request answers 500
- `throttle`: the first create of each idempotency key answers 429 with retry-after: 1
- `garbage`: answers 200 with a body that is not JSON
- `stall`: never answers within any sane timeout
- `fail`: videos fail upstream with code `moderation_blocked`
- `hold`: videos stay in progress (poll again in 5 s) until `POST /release`, then
  complete at once, all sharing one rendered MP4 per size (for bench/relay_inflight.py)

`GET /stats` tells what it received (creates per mode, idempotency keys).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from vidgate.media.encode import Mp4Writer

_videos: dict[str, dict[str, Any]] = {}
_by_key: dict[str, str] = {}
_polls: Counter[str] = Counter()
_creates: Counter[str] = Counter()
_throttled: set[str] = set()
_files = Path(tempfile.mkdtemp(prefix="fakeupstream-"))
_released: list[float] = []


def _misbehave(mode: str) -> Response | None:
    if mode == "error500":
        return JSONResponse({"error": {"message": "boom", "type": "server_error",
                                       "param": None, "code": None}}, status_code=500)
    if mode == "garbage":
        return Response(b"<html>definitely not json", media_type="text/html")
    return None


async def create(request: Request) -> Response:
    mode = request.path_params["mode"]
    _creates[mode] += 1
    if mode == "stall":
        await asyncio.sleep(3600)
    if (bad := _misbehave(mode)) is not None:
        return bad
    key = request.headers.get("idempotency-key", "")
    if mode == "throttle" and key not in _throttled:
        _throttled.add(key)
        return JSONResponse({"error": {"message": "slow down", "type": "rate_limit",
                                       "param": None, "code": None}},
                            status_code=429, headers={"retry-after": "1"})
    if key in _by_key:
        return JSONResponse(_videos[_by_key[key]])
    form = await request.form()
    width, height = (int(v) for v in str(form.get("size", "720x1280")).split("x"))
    video = {"id": f"video_{uuid.uuid4()}", "object": "video", "model": form.get("model"),
             "status": "queued", "progress": 0, "seconds": str(form.get("seconds", "4")),
             "size": f"{width}x{height}", "error": None, "mode": mode}
    _videos[video["id"]] = video
    _by_key[key] = video["id"]
    return JSONResponse(video)


async def retrieve(request: Request) -> Response:
    mode = request.path_params["mode"]
    if (bad := _misbehave(mode)) is not None:
        return bad
    video = _videos.get(request.path_params["video_id"])
    if video is None:
        return JSONResponse({"error": {"message": "no such video", "type": "invalid_request",
                                       "param": None, "code": None}}, status_code=404)
    _polls[video["id"]] += 1
    if mode == "hold":
        if not _released:
            video |= {"status": "in_progress", "progress": 10}
            return JSONResponse(video, headers={"openai-poll-after-ms": "5000"})
        _render(video)
        video |= {"status": "completed", "progress": 100}
        return JSONResponse(video)
    if _polls[video["id"]] == 1:
        video |= {"status": "in_progress", "progress": 50}
    elif video["status"] == "in_progress":
        if mode == "fail":
            video |= {"status": "failed", "error": {"code": "moderation_blocked",
                                                    "message": "The prompt was blocked."}}
        else:
            _render(video)
            video |= {"status": "completed", "progress": 100}
    return JSONResponse(video, headers={"openai-poll-after-ms": "100"})


def _render(video: dict[str, Any]) -> None:
    width, height = (int(v) for v in video["size"].split("x"))
    shared = _files / f"{video['size']}-{video['seconds']}.mp4"
    if not shared.exists():
        fps = 2
        with Mp4Writer(shared, width, height, fps=fps) as writer:
            for n in range(int(video["seconds"]) * fps):
                writer.write(np.full((height, width, 3), (n * 30) % 255, np.uint8))
    target = _files / f"{video['id']}.mp4"
    if not target.exists():
        target.hardlink_to(shared)


async def content(request: Request) -> Response:
    path = _files / f"{request.path_params['video_id']}.mp4"
    if not path.exists():
        return JSONResponse({"error": {"message": "not ready", "type": "invalid_request",
                                       "param": None, "code": None}}, status_code=404)
    return FileResponse(path, media_type="video/mp4")


async def delete(request: Request) -> Response:
    video = _videos.pop(request.path_params["video_id"], None)
    return JSONResponse({"id": request.path_params["video_id"], "object": "video.deleted",
                         "deleted": video is not None})


async def stats(_: Request) -> Response:
    return JSONResponse({"creates": dict(_creates), "keys": sorted(_by_key),
                         "polls": sum(_polls.values())})


async def release(_: Request) -> Response:
    """`hold` videos complete from now on."""
    _released.append(time.time())
    return JSONResponse({"released_at": _released[0]})


app = Starlette(routes=[
    Route("/stats", stats),
    Route("/release", release, methods=["POST"]),
    Route("/{mode}/v1/videos", create, methods=["POST"]),
    Route("/{mode}/v1/videos/{video_id}", retrieve, methods=["GET"]),
    Route("/{mode}/v1/videos/{video_id}", delete, methods=["DELETE"]),
    Route("/{mode}/v1/videos/{video_id}/content", content, methods=["GET"]),
])


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
