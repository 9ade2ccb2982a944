"""Prompt templates, kept as files beside this module and checked when loaded.

A template whose placeholders do not match what the code fills in fails at load time with
the file name, not halfway through an answer.
"""

from __future__ import annotations

import string
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

#: Placeholders each template must use, exactly.
EXPECTED_FIELDS: dict[str, frozenset[str]] = {
    "system": frozenset({"no_answer"}),
    "qa": frozenset({"question", "matched_line", "context", "no_answer"}),
    "source": frozenset({"number", "title", "authors", "affiliations", "venue", "abstract"}),
    "condense": frozenset({"previous_papers", "history", "question"}),
    "extractive": frozenset({"matched_line", "items"}),
}


class PromptTemplateError(ValueError):
    """A prompt file that is missing or whose placeholders are not the expected ones."""


def placeholders(template: str) -> set[str]:
    """Names of the ``{placeholders}`` in a template ("" for a positional ``{}``).

    Raises ValueError for a brace that opens or closes nothing.
    """
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def check_template(name: str, text: str, shown: str) -> str:
    """``text`` if it is a valid template for prompt ``name``; errors name the file ``shown``."""
    try:
        found = placeholders(text)
    except ValueError as error:
        raise PromptTemplateError(
            f"{shown}: not a valid template ({error}); write a literal brace as {{{{ or }}}}"
        ) from None
    positional = sorted(f"{{{n}}}" for n in found if n == "" or n.isdigit())
    if positional:
        raise PromptTemplateError(f"{shown}: positional placeholders {', '.join(positional)}; name each one")
    expected = EXPECTED_FIELDS[name]
    if found != expected:
        missing = ", ".join(sorted(expected - found)) or "none"
        extra = ", ".join(sorted(found - expected)) or "none"
        raise PromptTemplateError(
            f"{shown}: placeholders missing: {missing}; unexpected: {extra} "
            f"(it must use exactly: {', '.join(sorted(expected))})"
        )
    return text


def read_template(name: str, file: Traversable | Path, shown: str | None = None) -> str:
    """Read and check one template file; ``shown`` is how errors name it (default: its path)."""
    if name not in EXPECTED_FIELDS:
        raise PromptTemplateError(f"unknown prompt {name!r}; known: {', '.join(sorted(EXPECTED_FIELDS))}")
    shown = shown or str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PromptTemplateError(f"prompt file {shown} is missing from the installation") from None
    return check_template(name, text, shown)


@lru_cache(maxsize=None)
def load_prompt(name: str) -> str:
    """The template ``prompts/NAME.txt``, after checking its placeholders."""
    return read_template(name, resources.files(__package__).joinpath(f"{name}.txt"), f"prompts/{name}.txt")


def render(name: str, **values: object) -> str:
    """Fill a template; values are inserted verbatim (never re-parsed as templates)."""
    return load_prompt(name).format(**values)
