"""Prompt templates, kept as files beside this module and checked when loaded.

A template whose placeholders do not match what the code fills in fails at load time with
the file name, not halfway through an answer.
"""

from __future__ import annotations

import string
from functools import lru_cache
from importlib import resources

#: Placeholders each template must use, exactly.
EXPECTED_FIELDS: dict[str, frozenset[str]] = {
    "system": frozenset({"no_answer"}),
    "qa": frozenset({"question", "matched_line", "context", "no_answer"}),
    "source": frozenset({"number", "title", "authors", "venue", "abstract"}),
    "condense": frozenset({"previous_papers", "history", "question"}),
    "extractive": frozenset({"matched_line", "items"}),
}


class PromptTemplateError(ValueError):
    """A prompt file that is missing or whose placeholders are not the expected ones."""


def placeholders(template: str) -> set[str]:
    """Names of the ``{placeholders}`` in a template."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@lru_cache(maxsize=None)
def load_prompt(name: str) -> str:
    """The template ``prompts/NAME.txt``, after checking its placeholders."""
    if name not in EXPECTED_FIELDS:
        raise PromptTemplateError(f"unknown prompt {name!r}; known: {', '.join(sorted(EXPECTED_FIELDS))}")
    try:
        text = resources.files(__package__).joinpath(f"{name}.txt").read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PromptTemplateError(f"prompt file prompts/{name}.txt is missing from the installation") from None
    found = placeholders(text)
    expected = EXPECTED_FIELDS[name]
    if found != expected:
        missing = ", ".join(sorted(expected - found)) or "none"
        extra = ", ".join(sorted(found - expected)) or "none"
        raise PromptTemplateError(f"prompts/{name}.txt: placeholders missing: {missing}; unexpected: {extra}")
    return text


def render(name: str, **values: object) -> str:
    """Fill a template; values are inserted verbatim (never re-parsed as templates)."""
    return load_prompt(name).format(**values)
