"""Byte ranges on file downloads: Starlette's FileResponse answers them (no code of ours)."""

from __future__ import annotations

import httpx

from tests.api.conftest import SAMPLE, World
from tests.api.test_http import client, finish, reports_url
from tests.patience import ANSWER


def test_a_download_answers_byte_ranges(world: World) -> None:
    with client(world) as c:
        created = c.post(reports_url(world.root, SAMPLE), data={"parameters[dl]": "1"}).json()
        done = finish(c, reports_url(world.root, SAMPLE, created["id"]))
    url = done["attachment"]["url"]  # the signed link: no token needed
    full = httpx.get(url, timeout=ANSWER)
    assert full.status_code == 200 and full.headers["accept-ranges"] == "bytes"
    size = len(full.content)
    assert size > 20
    part = httpx.get(url, headers={"Range": "bytes=0-9"}, timeout=ANSWER)
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 0-9/{size}"
    assert part.content == full.content[:10]
    tail = httpx.get(url, headers={"Range": "bytes=-5"}, timeout=ANSWER)
    assert tail.status_code == 206 and tail.content == full.content[-5:]
    # a resumed download whose copy is stale (another ETag) gets the whole file again
    stale = httpx.get(
        url, headers={"Range": "bytes=0-9", "If-Range": '"not-this-one"'}, timeout=ANSWER
    )
    assert stale.status_code == 200 and stale.content == full.content
    same = httpx.get(
        url, headers={"Range": "bytes=0-9", "If-Range": full.headers["etag"]}, timeout=ANSWER
    )
    assert same.status_code == 206
    assert (
        httpx.get(url, headers={"Range": f"bytes={size + 10}-"}, timeout=ANSWER).status_code == 416
    )
