"""Content-addressed file storage for uploaded assets.

Uploads are streamed to a temporary file first (size-limited), inspected, and only then moved to
their final, hash-named place; a refused upload leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from remix.errors import BadRequest, PayloadTooLarge

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StagedFile:
    path: Path
    sha256: str
    size_bytes: int


class AssetStore:
    """Files live at ``<root>/<sha[:2]>/<sha><suffix>``; the key is that relative path."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, storage_key: str) -> Path:
        return self.root / storage_key

    @contextmanager
    def staged(self, source: BinaryIO, *, max_bytes: int, suffix: str) -> Iterator[StagedFile]:
        """Copy ``source`` to a temp file, refusing it once it passes ``max_bytes``; always cleaned up."""
        staging = self.root / ".staging"
        staging.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=staging, suffix=suffix)
        path = Path(name)
        try:
            digest = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise PayloadTooLarge(
                            f"file is larger than the {max_bytes // (1024 * 1024)} MiB limit for this kind"
                        )
                    digest.update(chunk)
                    out.write(chunk)
            if size == 0:
                raise BadRequest("file is empty")
            yield StagedFile(path=path, sha256=digest.hexdigest(), size_bytes=size)
        finally:
            path.unlink(missing_ok=True)

    def keep(self, staged: StagedFile, suffix: str) -> tuple[str, bool]:
        """Move a staged file to its content address. Returns (key, created_now)."""
        key = f"{staged.sha256[:2]}/{staged.sha256}{suffix}"
        final = self.path_for(key)
        if final.exists():
            return key, False
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_suffix(final.suffix + ".part")
        shutil.copyfile(staged.path, tmp)
        os.replace(tmp, final)
        return key, True

    def discard(self, key: str) -> None:
        self.path_for(key).unlink(missing_ok=True)
