"""Questions about the words of titles: "Which papers have 'diffusion' in the title?".

The reader means the literal word, and every paper whose title has it: over the 2,610 ICML
2024 papers, a ranked search for "diffusion" kept the 8 that stood out and "a title
containing the word agent" nothing at all. Here the word is read from the question and
checked against each title, so the answer is exactly the titles that hold it; beside a
topic ("... in the title that are about video") it narrows the papers searched.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from app.text import without_spans

from ingest.records import PaperRecord

_QUOTED = r"[\"'“‘]([^\"'”’]{1,60})[\"'”’]"
_WORD = r"([A-Za-z0-9][\w+.-]{0,40})"
_TERM = rf"(?:(?:the\s+)?(?:word|term|phrase|name|acronym)\s+)?(?:{_QUOTED}|{_WORD})"
_IN_TITLE = r"\s+in\s+(?:the(?:ir)?\s+|its\s+)?titles?\b"
_PATTERNS = [
    re.compile(rf"(?:\b(?:have|has|having|with|contain|contains|containing|mention|mentions|mentioning|"
               rf"use|uses|using|include|includes|including)\s+){_TERM}{_IN_TITLE}", re.IGNORECASE),
    re.compile(rf"(?:\b(?:whose|with|a|the|their|its)\s+)?\btitles?\s+(?:that\s+)?(?:contain|contains|containing|"
               rf"include|includes|including|mention|mentions|mentioning|with|has|have|having|says?|uses?|using)\s+{_TERM}",
               re.IGNORECASE),
    re.compile(rf"{_QUOTED}{_IN_TITLE}", re.IGNORECASE),
]


def read_title_phrase(question: str) -> tuple[str | None, str]:
    """The word or phrase the question wants in titles, and the question without that ask.

    >>> read_title_phrase("Which papers have 'diffusion' in the title?")
    ('diffusion', 'Which papers?')
    """
    for pattern in _PATTERNS:
        match = pattern.search(question)
        if not match:
            continue
        phrase = next((g for g in match.groups() if g), "").strip(" .,?!")
        if not phrase:
            continue
        return phrase, without_spans(question, [match.span()])
    return None, question


def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """The phrase as whole words, any case, its last word also in the plural ("agent" finds
    "Agents"); hyphens and spaces between its words are interchangeable."""
    parts = [re.escape(p) for p in re.split(r"[\s-]+", phrase.strip()) if p]
    body = r"[\s-]+".join(parts)
    return re.compile(rf"(?<![\w]){body}(?:s|es)?(?![\w])", re.IGNORECASE)


def titles_with(records: Sequence[PaperRecord], phrase: str) -> np.ndarray:
    """Which records' titles hold the phrase (an untitled record never does)."""
    pattern = phrase_pattern(phrase)
    return np.array([bool(r.title and pattern.search(r.title)) for r in records], dtype=bool)


def untitled_note(untitled: int, searched: int) -> str | None:
    """What a title question could not check: papers the listings gave no title."""
    if not untitled:
        return None
    return f"{untitled} of the {searched} papers searched have no title in the listings, so they could not be checked."
