"""Content-addressed file storage for uploaded assets.

Uploads are streamed to a temporary file first (size-limited), inspected, and only then moved to
their final, hash-named place; a refused upload leaves nothing behind.

Identical uploads share one file, so an upload whose transaction rolls back may delete the file only if no
committed asset uses it *and* no other upload still in flight is about to: each upload holds a claim on the
file (an empty file in ``.claims/<key>/``) from :meth:`AssetStore.keep` until its transaction ends. Claims and
deletion are serialised per file by an exclusive ``flock`` on that folder (so across API processes sharing
the asset directory too). A process that dies mid-upload leaves its claim: the file is then kept, never lost.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
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


@dataclass(frozen=True)
class KeptFile:
    """A staged upload at its content address, claimed by this upload until :meth:`AssetStore.release` or
    :meth:`AssetStore.discard_unless_used`."""

    key: str
    created: bool  # this upload wrote the file (no identical one was stored)
    claim: Path


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

    def keep(self, staged: StagedFile, suffix: str) -> KeptFile:
        """Move a staged file to its content address (unless identical bytes are there) and claim it."""
        key = f"{staged.sha256[:2]}/{staged.sha256}{suffix}"
        final = self.path_for(key)
        with self._locked(key) as claims:
            claim = claims / uuid.uuid4().hex
            claim.touch()
            if final.exists():
                return KeptFile(key, False, claim)
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = final.with_suffix(final.suffix + ".part")
            shutil.copyfile(staged.path, tmp)
            os.replace(tmp, final)
            return KeptFile(key, True, claim)

    def release(self, kept: KeptFile) -> None:
        """The upload committed: its asset row now keeps the file, the claim is no longer needed."""
        kept.claim.unlink(missing_ok=True)

    def discard_unless_used(self, kept: KeptFile, committed_use: Callable[[], bool]) -> None:
        """The upload rolled back: drop its claim, and delete the file unless another upload still claims it or
        ``committed_use()`` says a committed asset points at it."""
        with self._locked(kept.key) as claims:
            kept.claim.unlink(missing_ok=True)
            if not any(claims.iterdir()) and not committed_use():
                self.path_for(kept.key).unlink(missing_ok=True)

    @contextmanager
    def _locked(self, key: str) -> Iterator[Path]:
        """The claims folder of ``key``, locked. The folder is never removed: a process waiting for the lock
        would otherwise hold a folder that is gone."""
        claims = self.root / ".claims" / key.replace("/", "_")
        claims.mkdir(parents=True, exist_ok=True)
        fd = os.open(claims, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield claims
        finally:
            os.close(fd)  # closing releases the lock
