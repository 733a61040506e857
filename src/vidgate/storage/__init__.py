"""Object storage for the videos' files, over obstore: a local directory, memory or S3.

An adapter: it knows keys, bytes and content types, nothing of videos. Settings reach
it as plain values (`open_storage(url, S3Options(...))`).

    storage = open_storage("s3://bucket/prefix", S3Options(endpoint="http://127.0.0.1:8333"))
    await storage.put_file("videos/video_123/1/video.mp4", path, "video/mp4")
    url = await storage.presigned_get_url("videos/video_123/1/video.mp4", 3600)
"""

from __future__ import annotations

from vidgate.storage.backends import S3Options, open_storage
from vidgate.storage.objects import ObjectNotFound, Storage, check_key

__all__ = ["ObjectNotFound", "S3Options", "Storage", "check_key", "open_storage"]
