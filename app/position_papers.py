"""Questions about position papers: "Which orals are position papers?", "position papers on X".

ICML 2024 marks them in the title ("Position: A Safe Harbor for AI Evaluation..."), some
abstracts call themselves one ("In this position paper, we argue..."), and text search alone
cannot tell either from "positional encodings": the stemmer folds "position" and
"positional" together, so "list all position papers" over the 2,610 ICML 2024 papers
matched graph-transformer papers. Here the marks are read from the records: a paper that
carries one is a position paper; a titled paper without one is not, when the listings follow
the convention at all; an untitled paper may be either, and is left to the search.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from app.text import without_spans

from ingest.records import PaperRecord

_TITLE_MARK = re.compile(r"^\s*position\s*:", re.IGNORECASE)
_ABSTRACT_MARK = re.compile(r"\b(?:this|our|a|the)\s+position\s+paper\b", re.IGNORECASE)
_ASKS = re.compile(r"\bposition[\s-]+(?:papers?|orals?|talks?|pieces?)\b", re.IGNORECASE)
#: Titles starting "Position:" needed before a titled paper without the prefix counts as
#: not being one: a listing from a venue without the convention has none.
CONVENTION_TITLES = 3


def asks_for_position_papers(question: str) -> tuple[bool, str]:
    """Whether the question asks for position papers, and the question without the phrase
    ("Which orals are position papers on AI governance?" -> "Which orals are on AI
    governance?"), which is what is left to search for."""
    match = _ASKS.search(question)
    if not match:
        return False, question
    return True, without_spans(question, [match.span()])


def declares_position(record: PaperRecord) -> bool:
    """The record says it is a position paper, in its title or its abstract."""
    return bool(_TITLE_MARK.match(record.title or "") or _ABSTRACT_MARK.search(record.abstract or ""))


class PositionPapers:
    """Which records are position papers, which may be, for one store."""

    def __init__(self, records: Sequence[PaperRecord]) -> None:
        self.declared = np.array([declares_position(r) for r in records], dtype=bool)
        titled = np.array([bool(r.title) for r in records], dtype=bool)
        prefixed = sum(1 for r in records if _TITLE_MARK.match(r.title or ""))
        #: With the title convention, a titled paper without the prefix is not one.
        self.convention = prefixed >= CONVENTION_TITLES
        self.possible = self.declared | ~titled if self.convention else np.ones(len(records), dtype=bool)

    def note(self, searched: int) -> str | None:
        """The notice for a position-paper question that also names a topic; None when the
        listings do not mark position papers in titles (then nothing was narrowed)."""
        if not self.convention:
            return None
        return f"Searched only position papers (titled “Position: …”) and papers without a title: {searched} papers."
