"""Rendered audio on disk: `<AUDIO_DIR>/cache/<format>/<name>.<ext>`, written atomically.

A file's name is a keyed hash (HMAC-SHA256 with this cache's random secret, 128 bits shown) of what
made it: source kind, engine voice, language and text, or a recording's content hash.  So a changed
text or recording gets a new name and only it is rendered again, and the name of a per-call render
(a prompt with a contact's name in it) cannot be guessed from the text: the secret never leaves the
cache directory.  Files are written to a temporary name in the same directory and renamed, so a
failed or interrupted render never leaves an empty or partial file under a real name.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from robocall.audio.convert import Format

CACHE_DIR = "cache"
NAME = re.compile(r"^[0-9a-f]{32}$")
# Part of every key: a change to the conversion chain re-renders everything.
PIPELINE = "sox-mono-trim-norm3-v1"


class AudioCache:
    def __init__(self, audio_dir: Path) -> None:
        self.root = Path(audio_dir) / CACHE_DIR
        self._secret: bytes | None = None

    def name(self, *parts: str) -> str:
        message = json.dumps([PIPELINE, *parts], ensure_ascii=False).encode()
        return hmac.new(self._key(), message, hashlib.sha256).hexdigest()[:32]

    def path(self, fmt: Format, name: str) -> Path:
        return self.root / fmt.name / f"{name}.{fmt.ext}"

    def ready(self) -> bool:
        """Whether anything was ever rendered here (lookups need the secret; they never create it)."""
        return (self.root / ".secret").is_file()

    def existing(self, fmt: Format, name: str) -> Path | None:
        path = self.path(fmt, name)
        return path if path.is_file() and path.stat().st_size > 0 else None

    def write(self, fmt: Format, name: str, produce: Callable[[Path], None]) -> Path:
        """Let `produce` write a temporary file, then move it to the real name in one step."""
        target = self.path(fmt, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        with scratch_file(target.parent, f".{fmt.ext}") as temporary:
            produce(temporary)
            os.replace(temporary, target)
        return target

    def _key(self) -> bytes:
        if self._secret is None:
            self._secret = _load_or_create_secret(self.root / ".secret")
        return self._secret


def url_path(path: Path) -> str:
    """Where the server serves a rendered file (robocall/web/routes/audio.py): `/audio/<name>.<ext>`."""
    return f"/audio/{path.name}"


@contextmanager
def scratch_file(directory: Path, suffix: str) -> Iterator[Path]:
    """A fresh temporary path in `directory` (hidden, never served), removed unless renamed away."""
    directory.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=directory)
    os.close(handle)
    path = Path(name)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def _load_or_create_secret(path: Path) -> bytes:
    """The cache's secret, created once; several processes (server, workers) share it."""
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    with scratch_file(path.parent, ".secret") as temporary:
        temporary.write_text(secrets.token_hex(32))
        os.chmod(temporary, 0o600)
        try:
            os.link(temporary, path)  # fails if another process made it first: theirs wins
        except FileExistsError:
            pass
    return bytes.fromhex(path.read_text().strip())
