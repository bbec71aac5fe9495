"""Request and response bodies of the visual-model API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from remix.visuals.models import VisualBase, VisualModelStatus
from remix.visuals.prompt_rules import MAX_BLOCKED_WORDS, MAX_PROMPT_CHARS


class TrainIn(BaseModel):
    preset: Literal["demo", "tiny"] = Field(
        default="demo", description="'demo': the full run (built-in: 64×64 model for live visuals; lora: rank 8, "
        "500 steps); 'tiny': trains in seconds, for checks")
    steps: int | None = Field(default=None, ge=1, le=20_000, description="Training steps (default: the preset's)")
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    base: VisualBase = Field(
        default=VisualBase.builtin,
        description="'builtin': a small model trained from scratch on the consented artwork alone; 'lora': a LoRA "
        "adapter on the operator's licensed base pipeline (REMIX_VISUAL_BASE_DIR; 400 naming it if not configured)")


class TrainingSourceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    asset_id: int
    asset_sha256: str
    grant_id: int
    caption: str


class VisualModelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    artist_id: int
    album_id: int
    base: VisualBase
    preset: str
    status: VisualModelStatus
    progress: float = Field(description="0–1: training steps done / total")
    steps_done: int
    steps_total: int
    loss: float | None = Field(description="Smoothed training loss (lower is better)")
    seed: int
    manifest_hash: str | None = Field(description="sha256 of the canonical training manifest")
    error: str
    rejection_reason: str
    withdrawal_reason: str
    created_at: datetime
    finished_at: datetime | None
    reviewed_at: datetime | None
    withdrawn_at: datetime | None
    sources: list[TrainingSourceOut] = Field(description="The artwork trained on, its hash and the grant allowing it")


class ModelRejectIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class RenderIn(BaseModel):
    prompt: str = Field(max_length=MAX_PROMPT_CHARS, description="What to draw")
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="Same prompt + seed → the same frame")
    init_image: str | None = Field(default=None, max_length=6_000_000,
                                   description="The previous frame, base64 PNG/JPEG/WebP, for image→image")
    strength: float = Field(default=0.5, gt=0, le=1, description="How far to move away from init_image")
    steps: int = Field(default=4, ge=1, le=12, description="Denoising steps")
    guidance_scale: float = Field(default=1.0, ge=1, le=10, description="Prompt adherence (>1 costs 2× time)")
    size: int = Field(default=256, ge=64, le=768, description="Output width and height in pixels")


class PromptRulesIn(BaseModel):
    blocked_words: list[str] = Field(max_length=MAX_BLOCKED_WORDS,
                                     description="Words or phrases refused in prompts for this artist's models")


class PromptRulesOut(BaseModel):
    artist_id: int
    blocked_words: list[str]
