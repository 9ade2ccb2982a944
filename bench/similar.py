"""Does "Which orals are similar to X?" find the papers on X's topic?

Cases come from the question sets: for each topic or paraphrase question with three or
more gold papers, each titled gold paper is the reference X, and the other gold papers are
the ones a reader wants next to it (silver: they answer one question together). The score
is the share of them in the top 10 besides X itself.

The alternative a user has is asking with X's title as the topic ("Which orals are about
X?"), which searches the words of the title rather than the paper.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from typing import Any

from app.evaluate import reference_position
from app.metrics import Question
from app.papers import Paper
from bench.quality import REFERENCE

#: Questions with at least this many gold papers give cases (one per titled gold paper).
MIN_GOLD = 3
DEPTH = 10
FORMS: dict[str, str] = {
    "paperchat (papers like X)": "Which orals are similar to “{title}”?",
    "the title as a topic": "Which orals are about {title}?",
}


def measure(pc: Any, sets: Mapping[str, Sequence[Question]]) -> dict[str, Any] | None:
    """Mean share of a reference's fellow gold papers in the top 10, per question form;
    ``None`` when no gold paper of the store has a title."""
    searcher = pc.searcher
    by_position = {}
    for record in searcher.records:
        position = reference_position(Paper.from_record(record, score=0.0), REFERENCE)
        if position is not None:
            by_position[position] = record
    scores: dict[str, list[float]] = {name: [] for name in FORMS}
    resolved, latency = 0, []
    for questions in sets.values():
        for question in questions:
            if question.type not in ("topic", "paraphrase") or len(question.gold) < MIN_GOLD:
                continue
            gold = [by_position[g] for g in question.gold if g in by_position]
            for reference in (r for r in gold if r.title):
                others = {r.id for r in gold if r.id != reference.id}
                for name, form in FORMS.items():
                    started = time.perf_counter()
                    result = searcher.search(form.format(title=reference.title))
                    if name.startswith("paperchat"):
                        latency.append((time.perf_counter() - started) * 1000)
                        resolved += result.similar_to is not None and result.similar_to.id == reference.id
                    top = [p.id for p in result.ranked if p.id != reference.id][:DEPTH]
                    scores[name].append(len(others & set(top)) / len(others))
    cases = len(scores[next(iter(FORMS))])
    if not cases:
        return None
    latency.sort()
    return {
        "cases": cases,
        "resolved": resolved,
        "systems": {name: round(statistics.mean(v), 3) for name, v in scores.items()},
        "latency_ms": {"p50": latency[len(latency) // 2], "p95": latency[int(len(latency) * 0.95)], "n": len(latency)},
    }
