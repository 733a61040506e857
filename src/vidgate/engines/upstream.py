"""Talking to an upstream video server in either dialect of the API vidgate serves.

`openai`: OpenAI's Videos API (vLLM-Omni, SGLang diffusion, another vidgate): the result
is at `GET /videos/{id}/content`. `seed`: the reseller dialect: the result is the
`video_url` of `GET /videos/{id}`. Both create with a multipart `POST /videos`.

Errors are sorted into the two kinds the relay acts on: `UpstreamUnavailable` (worth
retrying or trying elsewhere: connection errors, timeouts, 408/409/429/5xx, answers that
make no sense) and `UpstreamRefused` (the upstream said no to this request: other 4xx).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

_RETRYABLE = {408, 409, 425, 429}


class UpstreamError(Exception):
    """Something went wrong talking to an upstream."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UpstreamUnavailable(UpstreamError):
    """A fault worth retrying later or on another channel."""


class UpstreamRefused(UpstreamError):
    """The upstream refused the request itself (a 4xx other than 408/409/425/429)."""


@dataclass(frozen=True)
class UpstreamVideo:
    """The fields of an upstream video the relay needs."""

    id: str
    status: str
    progress: int
    error_code: str | None
    error_message: str | None
    video_url: str | None
    poll_after: float | None
    """Seconds the upstream asked us to wait before asking again (openai-poll-after-ms)."""


class UpstreamClient:
    """One upstream: its base URL (ending in /v1), key and dialect."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        dialect: str,
        *,
        timeout: float = 30.0,
        connections: int = 8,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.dialect = dialect
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # One pooled client per upstream: thousands of followed jobs share its connections.
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )
        # Requests wait for a connection here, not in httpcore's pool, whose queue costs
        # O(waiting requests) per request: 1,500 jobs polling at once kept a worker at
        # 93 % CPU without getting anywhere (bench/relay_inflight.py, N = 5,000).
        self._turns = asyncio.Semaphore(connections)
        # The seed's video_url is signed by the upstream: fetched without our key, which is
        # not for whoever hosts the file.
        self._links = httpx.AsyncClient(timeout=self._http.timeout)

    async def create(
        self,
        *,
        model: str,
        prompt: str,
        size: str,
        seconds: int,
        reference: Path | None,
        idempotency_key: str,
    ) -> UpstreamVideo:
        fields = {"model": model, "prompt": prompt}
        if self.dialect == "openai":
            # The seed dialect's model names carry size and duration themselves.
            fields |= {"size": size, "seconds": str(seconds)}
        files: dict[str, Any] = {name: (None, value) for name, value in fields.items()}
        if reference is not None:
            image = await asyncio.to_thread(reference.read_bytes)
            files["input_reference"] = ("reference.png", image, "image/png")
        response = await self._send(
            "POST", "/videos", files=files, headers={"Idempotency-Key": idempotency_key}
        )
        return _video(response)

    async def remix(self, upstream_id: str, prompt: str, idempotency_key: str) -> UpstreamVideo:
        response = await self._send(
            "POST",
            f"/videos/{upstream_id}/remix",
            json={"prompt": prompt},
            headers={"Idempotency-Key": idempotency_key},
        )
        return _video(response)

    async def get(self, upstream_id: str) -> UpstreamVideo:
        return _video(await self._send("GET", f"/videos/{upstream_id}"))

    async def delete(self, upstream_id: str) -> None:
        await self._send("DELETE", f"/videos/{upstream_id}")

    async def download(self, video: UpstreamVideo, out: Path) -> None:
        """Stream the finished MP4 to `out`."""
        if self.dialect == "openai":
            client, url = self._http, f"{self.base_url}/videos/{video.id}/content"
        elif video.video_url:
            client, url = self._links, video.video_url
        else:
            raise UpstreamUnavailable(f"upstream video {video.id} completed without video_url")
        try:
            async with self._turns, client.stream("GET", url, follow_redirects=True) as response:
                _check(response, await _peek_error(response))
                with out.open("wb") as file:
                    async for chunk in response.aiter_bytes(1024 * 1024):
                        file.write(chunk)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"downloading {video.id} failed: {_describe(exc)}") from exc

    async def close(self) -> None:
        await self._http.aclose()
        await self._links.aclose()

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            async with self._turns:
                response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"{method} {path}: {_describe(exc)}") from exc
        _check(response, response.text if response.status_code >= 400 else "")
        return response


async def _peek_error(response: httpx.Response) -> str:
    if response.status_code < 400:
        return ""
    await response.aread()
    return response.text


def _check(response: httpx.Response, body: str) -> None:
    status = response.status_code
    if status < 400:
        return
    message = f"{response.request.method} {response.request.url.path} answered {status}: "
    message += _error_message(body)
    if status in _RETRYABLE or status >= 500:
        raise UpstreamUnavailable(message, retry_after=_retry_after(response.headers))
    raise UpstreamRefused(message)


def _error_message(body: str) -> str:
    try:
        data = json.loads(body)
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            return str(data["error"].get("message") or data["error"])
    except ValueError:
        pass
    return body[:300] or "(no body)"


def _retry_after(headers: httpx.Headers) -> float | None:
    if "retry-after-ms" in headers:
        try:
            return float(headers["retry-after-ms"]) / 1000
        except ValueError:
            return None
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        date = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, date.timestamp() - time.time()) if date else None


def _describe(exc: httpx.HTTPError) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _video(response: httpx.Response) -> UpstreamVideo:
    """Read a video object; an answer that isn't one is a fault, not a crash."""
    try:
        data = response.json()
    except ValueError:
        raise UpstreamUnavailable(
            f"{response.request.url.path} answered with something that is not JSON: "
            f"{response.text[:200]!r}"
        ) from None
    if not isinstance(data, Mapping) or not isinstance(data.get("id"), str):
        raise UpstreamUnavailable(f"{response.request.url.path} answered without a video id")
    status = data.get("status")
    if status not in ("queued", "in_progress", "completed", "failed"):
        raise UpstreamUnavailable(f"upstream video {data['id']} has status {status!r}")
    progress = data.get("progress")
    error: Mapping[str, Any] = data["error"] if isinstance(data.get("error"), Mapping) else {}
    poll_after = response.headers.get("openai-poll-after-ms")
    return UpstreamVideo(
        id=data["id"],
        status=status,
        progress=int(progress) if isinstance(progress, int | float) else 0,
        error_code=str(error.get("code")) if error.get("code") else None,
        error_message=str(error.get("message")) if error.get("message") else None,
        video_url=data.get("video_url") if isinstance(data.get("video_url"), str) else None,
        poll_after=float(poll_after) / 1000 if poll_after and poll_after.isdigit() else None,
    )
