"""Signed, expiring links to a video's files: the seed's `video_url`.

A link is `{base}/files/{video_id}/{file}?expires={unix}&sig={hmac}`; the HMAC-SHA256 over
the id, the file and the expiry makes it unforgeable, so it needs no Authorization header.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

from vidgate.domain import LinkRefused, Variant


class LinkSigner:
    def __init__(self, secret: bytes, base_url: str) -> None:
        self._secret = secret
        self.base_url = base_url.rstrip("/")

    def url(self, video_id: str, variant: Variant, expires_at: int) -> str:
        query = urlencode(
            {"expires": expires_at, "sig": self._sign(video_id, variant.filename, expires_at)}
        )
        return f"{self.base_url}/files/{video_id}/{variant.filename}?{query}"

    def verify(self, video_id: str, filename: str, expires: str, sig: str) -> None:
        """Raise LinkRefused unless the link is intact and unexpired."""
        if not expires.isdigit():
            raise LinkRefused("This link is malformed.", param="expires")
        expected = self._sign(video_id, filename, int(expires))
        # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a 500).
        if not hmac.compare_digest(expected.encode(), sig.encode()):
            raise LinkRefused("This link's signature is invalid.", param="sig")
        if int(expires) <= time.time():
            raise LinkRefused("This link has expired.", param="expires", code="link_expired")

    def _sign(self, video_id: str, filename: str, expires_at: int) -> str:
        message = f"{video_id}/{filename}/{expires_at}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()
