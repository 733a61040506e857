"""`/admin/...`: what operators see — workers and relay channel health.

Guarded by `VIDGATE_ADMIN_KEY` (a bearer token of its own, not a client's API key); with
no admin key set the admin API does not exist (404).
"""

from __future__ import annotations

import hmac
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from vidgate.api.errors import error_responses
from vidgate.config import Settings
from vidgate.domain import AuthenticationFailed, NotFound
from vidgate.store.workers import WorkerRepository

router = APIRouter(prefix="/admin")

async def _admin(request: Request) -> None:
    settings: Settings = request.app.state.settings
    if not settings.admin_key:
        raise NotFound("The admin API is off; set VIDGATE_ADMIN_KEY to turn it on.")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), settings.admin_key.encode()
    ):
        raise AuthenticationFailed("The admin API needs 'Authorization: Bearer <admin key>'.")


Admin = Annotated[None, Depends(_admin)]


@router.get("/workers", responses=error_responses(401, 404), summary="Workers and channels")
async def list_workers(request: Request, _: Admin) -> dict[str, Any]:
    """Every worker seen in the last minute: engines, running jobs, relay channel health."""
    reports: WorkerRepository = request.app.state.workers
    return {"object": "list", "data": await reports.live(now=int(time.time()))}


@router.get("/channels", responses=error_responses(401, 404), summary="Relay channel health")
async def list_channels(request: Request, _: Admin) -> dict[str, Any]:
    """Each relay channel as each worker sees it (in rotation or cooling down, errors)."""
    reports: WorkerRepository = request.app.state.workers
    return {"object": "list", "data": await reports.live_channels(now=int(time.time()))}
