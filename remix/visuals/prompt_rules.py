"""The checks every prompt passes before a frame is rendered, and the reasons given when one does not.

What this catches, and what it cannot:

* the artist's own blocked words and phrases — whole-word, case-insensitive; exact spellings only;
* the names of *other* artists in this catalog — whole-word, case-insensitive; it cannot know artists who are
  not in the catalog, nicknames, or misspellings;
* requests for a named person's likeness, found by a short curated list of phrasings ("photo of Jane Doe",
  "in the style of ...", "looks like ...", "deepfake") followed by what looks like a personal name (two or
  more capitalised words). It is a guard-rail against the obvious request, not a face or identity detector:
  lower-case names, single names and paraphrases get through, and a capitalised place name after
  "photo of" is refused. The small built-in model cannot draw anyone's likeness anyway; the rules matter
  most for LoRA models on large licensed bases.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

MAX_PROMPT_CHARS = 300
MAX_BLOCKED_WORDS = 200

_NAME = r"(?P<name>[A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]+)+)"
_LIKENESS_CUES = (
    rf"\b(?i:photo|photograph|picture|portrait|image|face|selfie|headshot)\s+(?i:of)\s+{_NAME}",
    r"\b(?i:in\s+the\s+style\s+of)\s+(?P<style>[\w'’.&-]+(?:\s+[\w'’.&-]+){0,3})",
    rf"\b(?i:looks?|looking)\s+(?i:like)\s+{_NAME}",
    rf"\b(?i:dressed)\s+(?i:as)\s+{_NAME}",
)
_LIKENESS_WORDS = re.compile(r"\b(deep\s?fake|face\s?swap|lookalike|look-alike|likeness)\b", re.IGNORECASE)


@dataclass(frozen=True)
class PromptVerdict:
    allowed: bool
    reason: str = ""


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w'’&]+", " ", text.casefold()).split())


def _contains_phrase(prompt: str, phrase: str) -> bool:
    words = _normalise(phrase)
    return bool(words) and re.search(rf"(?<!\w){re.escape(words)}(?!\w)", _normalise(prompt)) is not None


def clean_blocked_words(words: Iterable[str]) -> list[str]:
    """Trimmed, de-duplicated (case-insensitively), sorted; empty entries dropped."""
    seen: dict[str, str] = {}
    for word in words:
        cleaned = " ".join(word.split())
        if cleaned:
            seen.setdefault(cleaned.casefold(), cleaned)
    return sorted(seen.values(), key=str.casefold)


def judge_prompt(prompt: str, *, own_artist: str, other_artists: Iterable[str],
                 blocked_words: Iterable[str]) -> PromptVerdict:
    """Allow ``prompt`` for a model of ``own_artist``, or say why not."""
    if not prompt.strip():
        return PromptVerdict(False, "the prompt is empty; describe what to draw")
    if len(prompt) > MAX_PROMPT_CHARS:
        return PromptVerdict(False, f"the prompt is {len(prompt)} characters; the limit is {MAX_PROMPT_CHARS}")
    for word in blocked_words:
        if _contains_phrase(prompt, word):
            return PromptVerdict(False, f"'{word}' is on {own_artist}'s list of blocked words")
    for name in other_artists:
        if name.casefold() != own_artist.casefold() and _contains_phrase(prompt, name):
            return PromptVerdict(False, f"the prompt names another artist ('{name}'); models only draw "
                                        f"{own_artist}'s own world")
    if match := _LIKENESS_WORDS.search(prompt):
        return PromptVerdict(False, f"'{match.group(0)}' asks for a real person's likeness, which is not offered")
    for cue in _LIKENESS_CUES:
        for match in re.finditer(cue, prompt):
            groups = match.groupdict()
            if groups.get("style") is not None:
                style = groups["style"]
                if _contains_phrase(style, own_artist) and _normalise(style).startswith(_normalise(own_artist)):
                    continue
                return PromptVerdict(False, f"'in the style of {style}' names someone other than {own_artist}; "
                                            "describe the look you want instead")
            return PromptVerdict(False, f"the prompt asks for the likeness of a named person "
                                        f"('{groups['name']}'), which is not offered")
    return PromptVerdict(True)
