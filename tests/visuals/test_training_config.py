"""Training configs (built-in and LoRA): what a run may override, and what the manifest records."""

from __future__ import annotations

import json

import pytest

from remix.visuals.lora import LORA_PRESETS, LoraTrainingConfig
from remix.visuals.training import PRESETS, TrainingConfig


@pytest.mark.parametrize("preset", [PRESETS["tiny"], LORA_PRESETS["tiny"]], ids=["builtin", "lora"])
def test_a_run_overrides_only_steps_and_seed(preset: TrainingConfig | LoraTrainingConfig) -> None:
    run = preset.with_overrides(steps=7, seed=None)
    assert type(run) is type(preset)
    assert (run.steps, run.seed) == (7, preset.seed)
    assert {**run.to_json(), "steps": preset.steps} == preset.to_json()
    assert preset.with_overrides() == preset


@pytest.mark.parametrize("preset", [PRESETS["demo"], LORA_PRESETS["demo"]], ids=["builtin", "lora"])
def test_the_manifest_records_every_hyper_parameter_as_json(preset: TrainingConfig | LoraTrainingConfig) -> None:
    recorded = json.loads(json.dumps(preset.to_json()))
    assert recorded == preset.to_json()  # tuples are written as lists, so the manifest reads back the same
    assert type(preset)(**{k: tuple(v) if isinstance(v, list) else v for k, v in recorded.items()}) == preset
