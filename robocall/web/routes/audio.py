"""`/audio/<name>.<ext>`: rendered prompt audio, for Twilio's <Play> and the dashboard's players.

Public (no login), because Twilio fetches the files itself.  That is safe: the flows' prompts are
the same for everyone and carry no personal data.  The exception is a prompt rendered for one call
with a contact field in it (a name): its file name is a 128-bit keyed hash (robocall/audio/cache.py)
that cannot be derived from the text without the cache's secret, so it cannot be guessed or
enumerated; only the call that made it knows it.  Names are checked against a strict pattern and
joined to a fixed directory, so no path leaves the cache.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from pathlib import Path

from aiohttp import web

from robocall.audio.cache import AudioCache
from robocall.audio.convert import FORMATS_BY_EXT
from robocall.web.keys import SETTINGS
from robocall.web.security import public
from robocall.web.threads import in_thread

routes = web.RouteTableDef()
# A file's name stands for what made it, so its content does not change: caches may keep it a day.
CACHE_CONTROL = "public, max-age=86400"


@routes.get(r"/audio/{name:[0-9a-f]{32}}.{ext:[a-z0-9]{2,5}}")
@public
async def audio_file(request: web.Request) -> web.StreamResponse:
    fmt = FORMATS_BY_EXT.get(request.match_info["ext"])
    if fmt is None:
        raise web.HTTPNotFound(text="no such audio")
    path = AudioCache(request.app[SETTINGS].audio_dir).path(fmt, request.match_info["name"])
    found = await in_thread(request, _read, path)
    if found is None:
        raise web.HTTPNotFound(text="no such audio")
    body, etag, modified = found
    headers = {"ETag": etag, "Last-Modified": format_datetime(modified, usegmt=True), "Cache-Control": CACHE_CONTROL}
    if _not_modified(request, etag, modified):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type=fmt.content_type, headers=headers)


def _read(path: Path) -> tuple[bytes, str, datetime] | None:
    try:
        stat = path.stat()
        if not path.is_file() or stat.st_size == 0:
            return None
        etag = _content_etag(str(path), stat.st_mtime_ns, stat.st_size)
        return path.read_bytes(), etag, datetime.fromtimestamp(int(stat.st_mtime), UTC)
    except OSError:
        return None


@lru_cache(maxsize=4096)
def _content_etag(path: str, mtime_ns: int, size: int) -> str:
    """A strong ETag from the file's bytes (the mtime and size only key this memo)."""
    return '"' + hashlib.sha256(Path(path).read_bytes()).hexdigest()[:32] + '"'


def _not_modified(request: web.Request, etag: str, modified: datetime) -> bool:
    match = request.headers.get("If-None-Match")
    if match is not None:  # it takes precedence over If-Modified-Since (RFC 9110, 13.1.3)
        tags = {tag.strip().removeprefix("W/") for tag in match.split(",")}
        return "*" in tags or etag in tags
    since = request.headers.get("If-Modified-Since")
    if since is None:
        return False
    try:
        return modified <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
