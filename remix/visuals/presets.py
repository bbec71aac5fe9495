"""Names of the training presets, importable without torch (their definitions live in training.py)."""

PRESET_NAMES = frozenset({"demo", "tiny"})
