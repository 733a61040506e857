"""Drives vidgate with an older openai SDK (run with that SDK first on PYTHONPATH).

SDKs up to 2.26 send a JSON body for `videos.create` when no file is attached, and
`seconds` may be a number. Prints one JSON object with what it saw.
"""

from __future__ import annotations

import json
import sys

import openai


def main(base_url: str, key: str) -> None:
    client = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0)
    seen: dict[str, object] = {"sdk": openai.__version__}
    created = client.videos.create(model="sora-2", prompt="legacy json", seconds="4",
                                   size="1280x720")
    seen["created"] = created.to_dict()
    done = client.videos.create_and_poll(model="sora_video2-landscape", prompt="seed via json",
                                         poll_interval_ms=200)
    seen["polled"] = done.to_dict()
    seen["video_bytes"] = len(client.videos.download_content(done.id).content)
    remix = client.videos.remix(done.id, prompt="again, at night")
    seen["remix"] = remix.to_dict()
    try:
        client.videos.create(model="sora-2", prompt="x", seconds="7")
    except openai.BadRequestError as exc:
        seen["bad_request"] = exc.body
    print(json.dumps(seen))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
