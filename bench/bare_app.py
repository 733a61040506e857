"""The baseline for bench/api_throughput.py: a bare ASGI app answering the same JSON.

No routing framework, no database, no auth: the floor any HTTP server on this machine
can reach with uvicorn, so vidgate's figure is read as a ratio to it.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any


def _video(status: str) -> dict[str, Any]:
    return {"id": f"video_{uuid.uuid4()}", "object": "video", "model": "sora_video2",
            "status": status, "progress": None, "created_at": int(time.time()),
            "seconds": 10, "size": "720x1280"}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    while True:  # drain the body, as a real server must
        message = await receive()
        if not message.get("more_body"):
            break
    body = json.dumps(_video("queued" if scope["method"] == "POST" else "in_progress")).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
