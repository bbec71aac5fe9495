"""Prompt rules: what is refused, and that the refusal says why."""

from __future__ import annotations

import pytest

from remix.visuals.prompt_rules import clean_blocked_words, judge_prompt

OWN = "Alpha Band"
OTHERS = ["Alpha Band", "Beta Choir"]
BLOCKED = ["blood", "night club"]


@pytest.mark.parametrize("prompt", [
    "a rocket on a launch pad at dusk",
    "espresso cup, warm close-up, in the style of Alpha Band",
    "bloody orange sunset",  # 'blood' is blocked as a word, not as a substring
    "portrait of the moon over the sea",
])
def test_ordinary_prompts_pass(prompt: str) -> None:
    assert judge_prompt(prompt, own_artist=OWN, other_artists=OTHERS, blocked_words=BLOCKED).allowed


@pytest.mark.parametrize(("prompt", "reason"), [
    ("", "empty"),
    ("   ", "empty"),
    ("x" * 301, "limit is 300"),
    ("a pool of BLOOD", "'blood' is on Alpha Band's list of blocked words"),
    ("neon  Night-Club lights", "'night club' is on Alpha Band's list"),
    ("cover in the style of beta choir", "names another artist ('Beta Choir')"),
    ("Photo of Taylor Swift on stage", "likeness of a named person ('Taylor Swift')"),
    ("a singer who looks like Barack Obama", "likeness of a named person ('Barack Obama')"),
    ("album art in the style of Van Gogh", "'in the style of Van Gogh' names someone other than Alpha Band"),
    ("a deepfake of my neighbour", "'deepfake' asks for a real person's likeness"),
])
def test_refusals_say_why(prompt: str, reason: str) -> None:
    verdict = judge_prompt(prompt, own_artist=OWN, other_artists=OTHERS, blocked_words=BLOCKED)
    assert not verdict.allowed
    assert reason in verdict.reason


def test_blocked_words_are_cleaned() -> None:
    assert clean_blocked_words(["  Night   club ", "night club", "", "Blood"]) == ["Blood", "Night club"]
