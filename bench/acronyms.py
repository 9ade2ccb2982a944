"""Does a question find the same papers whether it says "RLHF" or spells it out?

No hand-made question set covers this at conference scale, so the cases come from the
listings: every acronym the listings define (see :mod:`app.acronyms`) used by 3 to 50
papers (a complete answer fits in one list). For each, two questions, "Which papers are
about RLHF?" and "Which papers are about reinforcement learning from human feedback?",
are scored against a silver answer: the papers whose title or abstract uses either form.

Systems: paperchat; paperchat with acronym expansion turned off (the ablation); and a
search box that returns every paper containing the typed words as a phrase (a listing
site's find-in-page, unlimited, so it is not held back by a top-k).

A second family of cases is the field's common acronyms that the listings never define
(:mod:`app.common_acronyms`: "MoE" for "mixture of experts"), with one more ablation:
paperchat expanding only the acronyms the listings define.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.acronyms import acronym_key, acronyms_in, contains_phrase, definitions
from app.common_acronyms import COMMON_ACRONYMS
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


#: (paper id, title + abstract, its content terms): computed once per measurement.
PaperTexts = list[tuple[str, str, list[str]]]


def paper_texts(records: Sequence[PaperRecord]) -> PaperTexts:
    return [(r.id, text, content_terms(text)) for r in records for text in (definition_text(r),)]


def with_acronym(texts: PaperTexts, acronym: str) -> set[str]:
    """Papers whose title or abstract uses the acronym (case-sensitively, plurals included)."""
    return {pid for pid, text, _ in texts if any(key == acronym for key in acronyms_in(text))}


def with_phrase(texts: PaperTexts, phrase: Sequence[str]) -> set[str]:
    """Papers whose title or abstract holds these stemmed words in order."""
    return {pid for pid, _, terms in texts if contains_phrase(terms, phrase)}


def cases(records: Sequence[PaperRecord], glossary_meaning: dict[str, tuple[str, ...]],
          texts: PaperTexts) -> list[AcronymCase]:  # fmt: skip
    """One case per defined, unambiguous acronym that 3 to 50 papers use in either form."""
    surface: dict[str, str] = {}
    for _, text, _ in texts:
        for key, long_form in definitions(text):
            if key in glossary_meaning and tuple(content_terms(long_form)) == glossary_meaning[key]:
                surface.setdefault(key, long_form)
    out = []
    for key, long_form in sorted(surface.items()):
        silver = frozenset(with_acronym(texts, key) | with_phrase(texts, glossary_meaning[key]))
        if MIN_PAPERS <= len(silver) <= MAX_PAPERS:
            out.append(AcronymCase(key, long_form.lower(), silver))
    return out


def common_cases(glossary_meaning: dict[str, tuple[str, ...]], texts: PaperTexts,
                 defined: set[str]) -> list[AcronymCase]:  # fmt: skip
    """One case per common acronym the listings do not define that 3 to 50 papers use."""
    out = []
    for acronym, long_form in sorted(COMMON_ACRONYMS.items()):
        key = acronym_key(acronym)
        if key is None or key in defined or key not in glossary_meaning:
            continue
        silver = frozenset(with_acronym(texts, key) | with_phrase(texts, glossary_meaning[key]))
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


def measure(pc: Any) -> dict[str, Any]:
    """Silver recall and precision per phrasing, and how alike the two answers are, per
    system: for the acronyms the listings define, and (under ``"common"``) for the common
    acronyms they do not."""
    searcher = pc.searcher
    records = searcher.records
    texts = paper_texts(records)
    meaning = searcher.keyword.glossary.meaning
    defined = cases(records, meaning, texts)
    plain = KeywordIndex(records, expand_acronyms=False)
    result = _measure_cases(pc, defined, texts, {"paperchat, acronyms not expanded": plain})
    defined_keys = {key for _, text, _ in texts for key, _ in definitions(text)}
    common = common_cases(meaning, texts, defined_keys)
    listing_only = KeywordIndex(records, common_acronyms=False)
    result["common"] = _measure_cases(pc, common, texts, {
        "paperchat, listing definitions only": listing_only, "paperchat, acronyms not expanded": plain})
    return result


def _measure_cases(pc: Any, found_cases: list[AcronymCase], texts: PaperTexts,
                   ablations: dict[str, KeywordIndex]) -> dict[str, Any]:  # fmt: skip
    searcher = pc.searcher
    expanded = searcher.keyword
    rows: dict[str, list[dict[str, float]]] = {"paperchat": [], **{name: [] for name in ablations},
                                               "phrase search (find-in-page)": []}  # fmt: skip
    for system in rows:
        if system == "phrase search (find-in-page)":
            for case in found_cases:  # find-in-page of what was typed (any case), or the acronym
                typed = with_acronym(texts, case.acronym) | with_phrase(texts, content_terms(case.acronym))
                found = {"acronym": typed, "long form": with_phrase(texts, content_terms(case.long_form))}
                rows[system].append(_score(found, case))
            continue
        searcher.keyword = ablations.get(system, expanded)
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
