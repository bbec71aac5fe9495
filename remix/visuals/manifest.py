"""The training manifest: what a model was trained on, under which grants, how, and by which code.

Its hash — sha256 of the canonical JSON (sorted keys, no whitespace) — is stored with the model and in its
model card, and the manifest records the sha256 of every checkpoint file; so the hash pins down both the
training data and the weights. A checkpoint whose files or manifest no longer match is refused at load time.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from remix import __version__
from remix.audit.service import canonical_json

MANIFEST_FORMAT = "remix.visual-model-manifest/1"


def code_version() -> dict[str, str]:
    # No git at run time (installed wheels have none): the package versions identify the code.
    import diffusers
    import torch

    return {"remix": __version__, "diffusers": diffusers.__version__, "torch": torch.__version__}


def manifest_hash(manifest: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(manifest).encode()).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def checkpoint_hashes(directory: Path) -> dict[str, str]:
    return {p.relative_to(directory).as_posix(): file_sha256(p) for p in sorted(directory.rglob("*")) if p.is_file()}


def write_manifest(path: Path, manifest: dict[str, Any]) -> str:
    """Write ``manifest`` (readable, indented) and return its hash."""
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return manifest_hash(manifest)


def read_verified_manifest(path: Path, expected_hash: str) -> dict[str, Any]:
    """Load a manifest and check it still hashes to ``expected_hash``; raise ``ValueError`` if not."""
    manifest: dict[str, Any] = json.loads(path.read_text())
    actual = manifest_hash(manifest)
    if actual != expected_hash:
        raise ValueError(f"manifest {path} hashes to {actual}, not the recorded {expected_hash}")
    return manifest


def verify_checkpoint(directory: Path, manifest: dict[str, Any]) -> None:
    """Raise ``ValueError`` unless the checkpoint files are exactly those the manifest lists."""
    recorded = manifest.get("checkpoint", {}).get("files", {})
    actual = checkpoint_hashes(directory)
    if actual != recorded:
        changed = sorted(set(actual.items()) ^ set(recorded.items()))
        raise ValueError(f"checkpoint files differ from the manifest: {[name for name, _ in changed]}")
