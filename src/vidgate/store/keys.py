"""API keys. Only a SHA-256 of each token is stored; the token is shown once, at creation.

SHA-256 (not a slow password hash) is right here: tokens are 256 random bits, so there
is nothing to brute-force, and every request checks one.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from sqlalchemy import select, update
from sqlalchemy.engine import RowMapping

from vidgate.domain import ApiKey
from vidgate.store.db import Database
from vidgate.store.tables import api_keys

TOKEN_PREFIX = "vg-"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class KeyRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, name: str) -> tuple[ApiKey, str]:
        """A new key and its token (the only time the token exists in the clear)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            id="key_" + secrets.token_hex(12),
            name=name,
            token_prefix=token[:10],
            created_at=int(time.time()),
            revoked_at=None,
        )
        async with self.db.write() as conn:
            await conn.execute(
                api_keys.insert().values(
                    id=key.id,
                    name=key.name,
                    token_hash=hash_token(token),
                    token_prefix=key.token_prefix,
                    created_at=key.created_at,
                )
            )
        return key, token

    async def authenticate(self, token: str) -> ApiKey | None:
        """The live key this token belongs to."""
        async with self.db.read() as conn:
            row = (
                (
                    await conn.execute(
                        select(api_keys).where(
                            api_keys.c.token_hash == hash_token(token),
                            api_keys.c.revoked_at.is_(None),
                        )
                    )
                )
                .mappings()
                .first()
            )
        return _key(row) if row else None

    async def list(self) -> list[ApiKey]:
        async with self.db.read() as conn:
            rows = await conn.execute(select(api_keys).order_by(api_keys.c.created_at))
            return [_key(r) for r in rows.mappings()]

    async def revoke(self, key_id: str) -> bool:
        async with self.db.write() as conn:
            result = await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=int(time.time()))
            )
        return result.rowcount == 1


def _key(row: RowMapping) -> ApiKey:
    return ApiKey(
        id=row["id"],
        name=row["name"],
        token_prefix=row["token_prefix"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )
