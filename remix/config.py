"""Service configuration, read from the environment (prefix ``REMIX_``) or a ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Secrets that ship in the repository or docs; a deployed service must never run with them.
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "development-only-secret"})


class Settings(BaseSettings):
    """All settings of one Remix process."""

    model_config = SettingsConfigDict(env_prefix="REMIX_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default="sqlite:///var/remix.db",
        description="SQLAlchemy URL. SQLite is the embedded default; PostgreSQL for production.",
    )
    data_dir: Path = Field(default=Path("var"), description="Where uploaded assets and renders live.")
    secret_key: str = Field(default="development-only-secret", description="Signs download URLs.")
    migrate_on_start: bool = True
    session_ttl_hours: int = 24 * 7
    max_image_bytes: int = 20 * 1024 * 1024
    max_audio_bytes: int = 200 * 1024 * 1024
    max_image_pixels: int = 50_000_000
    max_audio_seconds: float = 20 * 60
    frontend_dir: Path | None = None
    soundfont_path: Path = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
    visual_base_dir: Path | None = Field(
        default=None,
        description="A licensed diffusers pipeline directory (SD-turbo class: unet, vae, CLIP text encoder and "
        "tokenizer, scheduler; safetensors weights), read from local files only, that 'lora' visual models adapt.",
    )
    visual_device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="Where live frames render: CUDA (float16, channels-last) when present, or the CPU.")
    visual_compile: Literal["off", "default", "reduce-overhead", "max-autotune"] = Field(
        default="off", description="torch.compile mode of the live renderer's UNet (static batch buckets; "
        "reduce-overhead adds CUDA graphs).")
    visual_tiny_vae: Path | None = Field(
        default=None, description="A local AutoencoderTiny (TAESD-class, safetensors) directory that live frames of "
        "'lora' models encode and decode with instead of the base's full VAE.")
    redis_url: str | None = Field(
        default=None,
        description="Production mode: Redis for live session state, fan-out and render jobs (redis://host:6379/0).",
    )
    log_format: Literal["json", "text"] = Field(default="json", description="Log lines of `remix serve`/`worker`.")
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.environment == "production" and self.secret_key.strip().lower() in PLACEHOLDER_SECRETS:
            raise ValueError(
                "REMIX_SECRET_KEY is a placeholder; set a long random value before running in production"
            )
        if self.environment == "production" and len(self.secret_key) < 32:
            raise ValueError("REMIX_SECRET_KEY must be at least 32 characters in production")
        return self

    @property
    def asset_dir(self) -> Path:
        return self.data_dir / "assets"


@lru_cache
def get_settings() -> Settings:
    return Settings()
