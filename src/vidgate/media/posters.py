"""Still images made from a finished MP4: its first frame, a thumbnail and a spritesheet.

These come from the file itself, not from the engine, so every engine (local, relayed)
gets the same `thumbnail` (WebP) and `spritesheet` (JPEG) variants; both come from one
decoding pass.
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image

from vidgate.media.encode import decode_frames, probe

THUMBNAIL_LONG_SIDE = 640
SPRITE_TILE_LONG_SIDE = 192
SPRITE_MAX_TILES = 25
SPRITE_COLUMNS = 5


def first_frame(mp4: Path) -> Image.Image:
    """The video's first frame as an RGB image, full size."""
    for frame in decode_frames(mp4):
        image: Image.Image = frame.to_image()
        return image
    raise ValueError(f"{mp4} has no video frames")


def make_posters(mp4: Path, thumbnail: Path, spritesheet: Path) -> None:
    """The thumbnail and the spritesheet, from one pass over the video's frames.

    Thumbnail: a WebP of the first frame, its long side at most THUMBNAIL_LONG_SIDE.
    Spritesheet: a JPEG grid of frames sampled evenly through the video (about one a
    second), SPRITE_COLUMNS to a row, at most SPRITE_MAX_TILES, each keeping the video's
    aspect ratio; a tile is the middle frame of its stretch of the video.
    """
    info = probe(mp4)
    tiles = max(1, min(SPRITE_MAX_TILES, round(info.duration) or 1, info.frames))
    wanted = sorted({int((i + 0.5) * info.frames / tiles) for i in range(tiles)})
    scale = SPRITE_TILE_LONG_SIDE / max(info.width, info.height)
    tile_w = max(2, round(info.width * scale))
    tile_h = max(2, round(info.height * scale))
    columns = min(SPRITE_COLUMNS, len(wanted))
    sheet = Image.new("RGB", (columns * tile_w, math.ceil(len(wanted) / columns) * tile_h))
    placed = 0
    for index, frame in enumerate(decode_frames(mp4)):
        if index == 0:
            first = frame.to_image()
            first.thumbnail((THUMBNAIL_LONG_SIDE, THUMBNAIL_LONG_SIDE), Image.Resampling.LANCZOS)
            first.save(thumbnail, format="WEBP", quality=80)
        if placed < len(wanted) and index == wanted[placed]:
            tile = frame.to_image().resize((tile_w, tile_h), Image.Resampling.BILINEAR)
            sheet.paste(tile, ((placed % columns) * tile_w, (placed // columns) * tile_h))
            placed += 1
        if index > 0 and placed == len(wanted):
            break
    sheet.save(spritesheet, format="JPEG", quality=85)
