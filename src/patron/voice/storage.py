"""Where uploaded files live: a small interface with a local-disk default (ADR 1501).

Keys are generated here (random, with the merchant's id as the folder) and never come from
an upload's name, so a hostile name such as ``../../x.png`` cannot place a file anywhere."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Protocol

_KEY = re.compile(r"^[0-9]{1,19}/[0-9a-f]{32}\.(jpg|png|webp)$")


class MediaStorage(Protocol):
    def put(self, merchant_id: int, data: bytes, extension: str) -> str: ...

    def get(self, key: str) -> bytes | None: ...

    def delete(self, key: str) -> None: ...


def new_key(merchant_id: int, extension: str) -> str:
    return f"{merchant_id}/{secrets.token_hex(16)}.{extension}"


class LocalStorage:
    """Files under ``root`` (the configured media directory), one folder per merchant."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError("not a storage key")
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise ValueError("not a storage key")
        return path

    def put(self, merchant_id: int, data: bytes, extension: str) -> str:
        key = new_key(merchant_id, extension)
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_bytes(data)
        os.replace(partial, path)
        return key

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except (ValueError, FileNotFoundError):
            return None

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except ValueError:
            return


def storage_for(media_dir: str) -> MediaStorage:
    """The configured storage: local disk under ``media_dir`` (``PATRON_MEDIA_DIR``)."""
    return LocalStorage(media_dir)
