"""The relay engine: videos made by upstream servers that speak this same API.

A relayed job submits to the best channel (see `channels`), saves the upstream id as its
engine state *before* waiting, then follows the upstream job to the end, reflecting its
progress. The finished MP4 is copied into vidgate's own storage (by the worker), so our
`video_url` and `expires_at` don't depend on the upstream's links.

    submit ──saved──▶ follow ──completed──▶ download ──▶ done
      │                 │  └──failed──▶ our video fails with the upstream's error
      └─fault──▶ next channel ◀──fault (dead, lost the job, garbage)

Faults (connection errors, timeouts, 429, 5xx, nonsense answers) are retried with
backoff, honouring `retry-after`, then the job fails over to the next channel. Each
submission carries an `Idempotency-Key` derived from our video id, and the state names
the submission before it is sent, so a restart mid-relay resumes following the same
upstream job (or repeats the same idempotent submission) instead of making a second one.

A waiting job holds no thread, only a coroutine asleep between polls: one worker
follows thousands (`max_jobs` is the sum of the channels' `max_in_flight`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from vidgate.engines.base import (
    CancelToken,
    GenerationCancelled,
    GenerationFailed,
    GenerationRequest,
    ProgressFn,
)
from vidgate.engines.channels import Channel, ChannelConfig, ChannelPool
from vidgate.engines.upstream import (
    UpstreamError,
    UpstreamRefused,
    UpstreamUnavailable,
    UpstreamVideo,
)
from vidgate.media.encode import probe
from vidgate.media.posters import first_frame

log = logging.getLogger("vidgate.relay")
T = TypeVar("T")

_DOWNLOAD_SHARE = 0.95  # of our progress bar: the rest is the copy into our storage
_MAX_BACKOFF = 30.0
_DURATION_TOLERANCE = 0.5  # seconds an upstream's clip may differ from the asked duration


class _Failover(Exception):
    """This channel can't make the video now; try the next one."""


class RelayEngine:
    """Relays jobs to upstream channels."""

    name = "relay"

    def __init__(self, channels: Iterable[ChannelConfig]) -> None:
        self.pool = ChannelPool(channels)
        if not self.pool.channels:
            raise ValueError("the relay engine needs at least one [[channels]] entry")
        self.max_jobs: int | None = self.pool.capacity

    async def generate(
        self, request: GenerationRequest, progress: ProgressFn, cancel: CancelToken
    ) -> None:
        state: dict[str, Any] = dict(request.state or {})
        # Channels that failed this job, saved with the state: a resumed job skips them.
        tried: list[str] = list(state.get("tried", []))
        state["tried"] = tried
        last_error = "no channel serves this model"
        for channel, how in self._plan(request, state, tried):
            try:
                await self._run(channel, request, state, progress, cancel, **how)
                return
            except _Failover as exc:
                last_error = str(exc)
                tried.append(channel.name)
                log.warning("%s: channel %s failed (%s); failing over",
                            request.video_id, channel.name, exc)
        raise GenerationFailed(
            f"No upstream could make this video: {last_error}", code="upstream_unavailable"
        )

    def _plan(
        self, request: GenerationRequest, state: Mapping[str, Any], tried: list[str]
    ) -> Iterator[tuple[Channel, dict[str, bool]]]:
        """The channels to try, in order; lazily, so each sees the failures before it.

        The channel of an earlier attempt first (follow its upstream job), then the one
        holding a remixed video (remix it there), then the rest by priority and weight.
        """
        resumed = self.pool.channels.get(str(state.get("channel")))
        if resumed is not None:
            log.info("%s: resuming on channel %s", request.video_id, resumed.name)
            yield resumed, {"resume": True}
        remix_on = self._remix_channel(request, tried)
        if remix_on is not None:
            yield remix_on, {"remix": True}
        yield from ((channel, {}) for channel in self.pool.candidates(
            request.model, request.width, request.height, request.seconds, exclude=tried))

    def health(self) -> list[dict[str, Any]]:
        """Each channel's state as this worker sees it."""
        return self.pool.health()

    async def forget(self, state: Mapping[str, Any]) -> None:
        """Delete the upstream copy of a video we deleted (best effort)."""
        channel = self.pool.channels.get(str(state.get("channel")))
        upstream_id = state.get("upstream_id")
        if channel is not None and isinstance(upstream_id, str):
            try:
                await channel.client.delete(upstream_id)
            except UpstreamError as exc:
                log.info("deleting %s upstream on %s failed: %s", upstream_id, channel.name, exc)

    async def close(self) -> None:
        await self.pool.close()

    def _remix_channel(self, request: GenerationRequest, tried: list[str]) -> Channel | None:
        """The channel holding the remixed video upstream, if it can remix it there."""
        source = request.source_state or {}
        channel = self.pool.channels.get(str(source.get("channel")))
        if channel is None or channel.name in tried or not channel.config.remix:
            return None
        return channel if isinstance(source.get("upstream_id"), str) else None

    async def _run(
        self,
        channel: Channel,
        request: GenerationRequest,
        state: dict[str, Any],
        progress: ProgressFn,
        cancel: CancelToken,
        *,
        resume: bool = False,
        remix: bool = False,
    ) -> None:
        channel.in_flight += 1
        try:
            upstream_id = state.get("upstream_id") if resume else None
            if not isinstance(upstream_id, str):
                if not resume:
                    state.update(channel=channel.name, upstream_id=None,
                                 submission=int(state.get("submission", 0)) + 1)
                    await request.save_state(state)  # before sending: a restart resends it
                video = await self._submit(channel, request, state, remix=remix)
                state["upstream_id"] = upstream_id = video.id
                await request.save_state(state)
            await self._follow(channel, request, upstream_id, progress, cancel)
        finally:
            channel.in_flight -= 1

    async def _submit(
        self, channel: Channel, request: GenerationRequest, state: Mapping[str, Any],
        *, remix: bool,
    ) -> UpstreamVideo:
        key = f"vidgate-{request.video_id}-{state['submission']}"
        if remix:
            source_id = str((request.source_state or {})["upstream_id"])
            return await self._with_retries(
                channel, lambda: channel.client.remix(source_id, request.prompt, key)
            )
        model = channel.config.upstream_model(
            request.model, request.width, request.height, request.seconds
        )
        if model is None:
            raise _Failover(f"channel {channel.name} does not serve {request.model}")
        reference = request.reference or await asyncio.to_thread(self._source_frame, request)
        return await self._with_retries(
            channel,
            lambda: channel.client.create(
                model=model, prompt=request.prompt, size=f"{request.width}x{request.height}",
                seconds=request.seconds, reference=reference, idempotency_key=key,
            ),
        )  # fmt: skip

    @staticmethod
    def _source_frame(request: GenerationRequest) -> Path | None:
        """A remix sent as a new video starts from the remixed video's first frame."""
        if request.source_video is None:
            return None
        path = request.output.with_name("source-first-frame.png")
        first_frame(request.source_video).save(path)
        return path

    async def _with_retries(self, channel: Channel, call: Callable[[], Awaitable[T]]) -> T:
        """`call()`, retried with backoff on faults; a refusal or the last fault fails over."""
        for attempt in range(channel.config.retries + 1):
            try:
                return await call()
            except UpstreamRefused as exc:
                channel.record_failure(str(exc))
                raise _Failover(str(exc)) from None
            except UpstreamUnavailable as exc:
                if attempt == channel.config.retries:
                    channel.record_failure(str(exc))
                    raise _Failover(str(exc)) from None
                await asyncio.sleep(_backoff(attempt, exc.retry_after))
        raise AssertionError("unreachable")

    async def _follow(
        self,
        channel: Channel,
        request: GenerationRequest,
        upstream_id: str,
        progress: ProgressFn,
        cancel: CancelToken,
    ) -> None:
        faults = 0
        started = time.monotonic()
        while True:
            if cancel.cancelled:
                await self._cancel_upstream(channel, upstream_id)
                raise GenerationCancelled()
            try:
                video = await channel.client.get(upstream_id)
            except UpstreamRefused as exc:  # e.g. 404: the upstream lost the job
                channel.record_failure(str(exc))
                raise _Failover(str(exc)) from None
            except UpstreamUnavailable as exc:
                faults += 1
                if faults > channel.config.retries:
                    channel.record_failure(str(exc))
                    raise _Failover(str(exc)) from None
                await asyncio.sleep(_backoff(faults - 1, exc.retry_after))
                continue
            faults = 0
            progress(min(video.progress, 100) / 100 * _DOWNLOAD_SHARE)
            if video.status == "failed":
                channel.record_success()  # the upstream works; this video didn't
                raise GenerationFailed(
                    video.error_message or "The upstream failed to make the video.",
                    code=video.error_code or "upstream_failed",
                )
            if video.status == "completed":
                await self._download(channel, request, video)
                channel.record_success()
                return
            # Never sooner than the upstream asks (openai-poll-after-ms) or poll_seconds;
            # slower as the job ages (a sixth of its age, up to max_poll_seconds), so
            # thousands of long jobs don't saturate the worker with polls.
            config = channel.config
            aged = min(config.max_poll_seconds, (time.monotonic() - started) / 6)
            await asyncio.sleep(max(video.poll_after or 0.0, config.poll_seconds, aged))

    async def _download(
        self, channel: Channel, request: GenerationRequest, video: UpstreamVideo
    ) -> None:
        await self._with_retries(channel, lambda: channel.client.download(video, request.output))
        try:
            info = await asyncio.to_thread(probe, request.output)
        except Exception as exc:
            channel.record_failure(f"upstream sent a file that is not a video: {exc}")
            raise _Failover(f"upstream {video.id} is not a readable video: {exc}") from None
        if (info.width, info.height) != (request.width, request.height) or abs(
            info.duration - request.seconds
        ) > _DURATION_TOLERANCE:
            # Never deliver something other than what was asked.
            raise GenerationFailed(
                f"The upstream delivered {info.width}x{info.height}, {info.duration:.1f} s; "
                f"{request.width}x{request.height}, {request.seconds} s was asked.",
                code="upstream_mismatch",
            )

    async def _cancel_upstream(self, channel: Channel, upstream_id: str) -> None:
        try:
            await channel.client.delete(upstream_id)
        except UpstreamError as exc:
            log.info("cancelling %s on %s failed: %s", upstream_id, channel.name, exc)


def _backoff(attempt: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return min(retry_after, _MAX_BACKOFF * 4)
    return min(_MAX_BACKOFF, 0.5 * 2.0**attempt)
