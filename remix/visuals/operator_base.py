"""The operator-supplied base pipeline that ``lora`` visual models adapt: checked and identified without torch.

The label licenses a diffusers pipeline (SD-turbo class) and points ``REMIX_VISUAL_BASE_DIR`` at its directory.
Only local files are read. Before anything trains on it or renders with it the directory is checked here, so
a missing or broken base is refused with a 4xx naming the setting instead of a traceback from deep in diffusers.
Weights must be safetensors: a pickled ``.bin`` can run code when loaded, and the label's file is not ours.

The base's *identity* — its directory name and the sha256 of every file the pipeline loads — goes into each
LoRA model's training manifest, and a LoRA is only ever applied to the base it was trained on.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remix.errors import BadRequest
from remix.visuals.manifest import file_sha256

SETTING = "REMIX_VISUAL_BASE_DIR"
# Components the LoRA pipeline loads, and the file in each that says what it is.
COMPONENTS = {
    "unet": "config.json",
    "vae": "config.json",
    "text_encoder": "config.json",
    "tokenizer": "tokenizer_config.json",
    "scheduler": "scheduler_config.json",
}
WEIGHTED = ("unet", "vae", "text_encoder")


class BaseNotConfigured(BadRequest):
    """``base: "lora"`` was asked for but no usable operator base pipeline is configured."""


@dataclass(frozen=True)
class BaseIdentity:
    directory: Path
    dir_name: str
    pipeline_class: str
    files: dict[str, str]  # path inside the directory → sha256
    sha256: str  # over the sorted "path sha256" lines

    def to_json(self) -> dict[str, Any]:
        return {"dir_name": self.dir_name, "pipeline_class": self.pipeline_class, "files": self.files,
                "sha256": self.sha256}


def check_base_dir(directory: Path | None) -> Path:
    """The resolved base directory, or :class:`BaseNotConfigured` saying what is wrong and naming the setting."""
    if directory is None:
        raise BaseNotConfigured(f"base 'lora' needs an operator base pipeline, and {SETTING} is not set; set it to a "
                                "local diffusers pipeline directory (or train with base 'builtin')")
    path = directory.expanduser().resolve()
    if not path.is_dir():
        raise BaseNotConfigured(f"{SETTING}={directory} is not a directory")
    problems = []
    try:
        index = json.loads((path / "model_index.json").read_text())
        if not isinstance(index, dict):
            problems.append("model_index.json is not a JSON object")
    except (OSError, ValueError) as exc:
        problems.append(f"model_index.json is missing or unreadable ({type(exc).__name__})")
    for component, marker in COMPONENTS.items():
        if not (path / component / marker).is_file():
            problems.append(f"{component}/{marker} is missing")
    for component in WEIGHTED:
        folder = path / component
        if folder.is_dir() and not any(folder.glob("*.safetensors")):
            problems.append(f"{component}/ has no .safetensors weights (pickled .bin weights are not loaded)")
    if problems:
        raise BaseNotConfigured(f"{SETTING}={directory} is not a usable diffusers pipeline directory: "
                                + "; ".join(problems))
    return path


_IDENTITIES: dict[tuple[Path, tuple[tuple[str, int, int], ...]], BaseIdentity] = {}
_IDENTITY_LOCK = threading.Lock()


def _loaded_files(path: Path) -> list[Path]:
    files = [path / "model_index.json"]
    for component in COMPONENTS:
        files.extend(p for p in sorted((path / component).rglob("*")) if p.is_file())
    return files


def base_identity(directory: Path | None) -> BaseIdentity:
    """Check the base directory and hash every file the pipeline loads (cached while sizes and mtimes hold:
    an SD-class base is gigabytes, and this is asked at every model load)."""
    path = check_base_dir(directory)
    files = _loaded_files(path)
    stamp = tuple((p.relative_to(path).as_posix(), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    with _IDENTITY_LOCK:
        cached = _IDENTITIES.get((path, stamp))
        if cached is not None:
            return cached
        hashes = {p.relative_to(path).as_posix(): file_sha256(p) for p in files}
        combined = hashlib.sha256("".join(f"{name} {digest}\n" for name, digest in sorted(hashes.items())).encode())
        index = json.loads((path / "model_index.json").read_text())
        identity = BaseIdentity(directory=path, dir_name=path.name, pipeline_class=str(index.get("_class_name", "")),
                                files=hashes, sha256=combined.hexdigest())
        _IDENTITIES[(path, stamp)] = identity
        return identity
