"""Does a question find the same papers whether it says "RLHF" or spells it out?

No hand-made question set covers this at conference scale, so the cases come from the
listings: every acronym the listings define (see :mod:`app.acronyms`) used by 3 to 50
papers (a complete answer fits in one list). For each, two questions, "Which papers are
about RLHF?" and "Which papers are about reinforcement learning from human feedback?",
are scored against a silver answer: the papers whose title or abstract uses either form.

Systems: paperchat; paperchat with acronym expansion turned off (the ablation); and a
search box that returns every paper containing the typed words as a phrase (a listing
site's find-in-page, unlimited, so it is not held back by a top-k).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.acronyms import acronym_key, acronyms_in, contains_phrase, definitions
from app.keyword import KeywordIndex, definition_text
from app.text import content_terms
from ingest.records import PaperRecord

#: Fewest and most papers an acronym must be used by to be a case.
MIN_PAPERS, MAX_PAPERS = 3, 50


@dataclass(frozen=True)
class AcronymCase:
    acronym: str
    long_form: str
    silver: frozenset[str]


def _uses_acronym(text: str, acronym: str) -> bool:
    return any(key == acronym for key in acronyms_in(text))


def cases(records: Sequence[PaperRecord], glossary_meaning: dict[str, tuple[str, ...]]) -> list[AcronymCase]:
    """One case per defined, unambiguous acronym that 3 to 50 papers use in either form."""
    surface: dict[str, str] = {}
    for record in records:
        for key, long_form in definitions(definition_text(record)):
            if key in glossary_meaning and tuple(content_terms(long_form)) == glossary_meaning[key]:
                surface.setdefault(key, long_form)
    texts = [(r.id, definition_text(r), content_terms(definition_text(r))) for r in records]
    out = []
    for key, long_form in sorted(surface.items()):
        phrase = glossary_meaning[key]
        silver = frozenset(pid for pid, text, terms in texts if _uses_acronym(text, key) or contains_phrase(terms, phrase))
        if MIN_PAPERS <= len(silver) <= MAX_PAPERS:
            out.append(AcronymCase(key, long_form.lower(), silver))
    return out


def _questions(case: AcronymCase) -> dict[str, str]:
    return {"acronym": f"Which papers are about {case.acronym}?",
            "long form": f"Which papers are about {case.long_form}?"}  # fmt: skip


def _score(found: dict[str, set[str]], case: AcronymCase) -> dict[str, float]:
    row: dict[str, float] = {}
    for phrasing, ids in found.items():
        row[f"recall {phrasing}"] = len(ids & case.silver) / len(case.silver)
        row[f"precision {phrasing}"] = len(ids & case.silver) / len(ids) if ids else 0.0
    a, b = found["acronym"], found["long form"]
    row["overlap"] = len(a & b) / len(a | b) if a | b else 1.0
    return row


def _phrase_search(records: Sequence[PaperRecord], question_text: str) -> set[str]:
    """Every paper whose title or abstract contains the typed words in order (find-in-page)."""
    phrase = content_terms(question_text)
    acronym = acronym_key(question_text) if len(question_text.split()) == 1 else None
    return {r.id for r in records
            if (acronym and _uses_acronym(definition_text(r), acronym)) or contains_phrase(content_terms(definition_text(r)), phrase)}  # fmt: skip


def measure(pc: Any) -> dict[str, Any]:
    """Silver recall and precision per phrasing, and how alike the two answers are, per system."""
    searcher = pc.searcher
    records = searcher.records
    expanded = searcher.keyword
    found_cases = cases(records, expanded.glossary.meaning)
    rows: dict[str, list[dict[str, float]]] = {"paperchat": [], "paperchat, acronyms not expanded": [],
                                               "phrase search (find-in-page)": []}  # fmt: skip
    plain = KeywordIndex(records, expand_acronyms=False)
    for system in rows:
        if system == "phrase search (find-in-page)":
            for case in found_cases:
                typed = {"acronym": case.acronym, "long form": case.long_form}
                rows[system].append(_score({k: _phrase_search(records, v) for k, v in typed.items()}, case))
            continue
        searcher.keyword = plain if system == "paperchat, acronyms not expanded" else expanded
        try:
            for case in found_cases:
                found = {k: {p.id for p in pc.search(q)} for k, q in _questions(case).items()}
                rows[system].append(_score(found, case))
        finally:
            searcher.keyword = expanded
    summary = {system: {metric: statistics.fmean(r[metric] for r in system_rows) for metric in system_rows[0]}
               for system, system_rows in rows.items() if system_rows}  # fmt: skip
    return {"cases": len(found_cases), "acronyms": [c.acronym for c in found_cases],
            "silver_mean": statistics.fmean(len(c.silver) for c in found_cases) if found_cases else 0.0,
            "systems": summary}  # fmt: skip
