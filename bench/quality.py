"""Score systems on the question sets, per question type, with the project's own metrics.

The metric functions are :mod:`app.metrics` (pure, hand-checkable), and papers map to gold
positions through their provenance exactly as ``paperchat eval`` does, so a figure here and
a figure from ``paperchat eval`` mean the same thing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from app.evaluate import positions
from app.metrics import (
    Question,
    citation_precision,
    citation_recall,
    load_questions,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
    summarize,
)
from bench.common import REPO, SHARED
from bench.systems import System

#: The listing every gold position refers to (the ICML 2024 virtual-site orals page).
REFERENCE = "001_49cbb665570d8f3c.txt"
#: Shared dev questions (may be absent on other machines) and the project's own set.
QUESTION_SETS: dict[str, Path] = {
    "dev": SHARED / "eval" / "dev_questions.jsonl",
    "project": REPO / "eval" / "questions.jsonl",
}
#: Question types whose answer is a list, where completeness is what matters.
LIST_TYPES: tuple[str, ...] = ("topic", "paraphrase", "author")
#: Columns of the quality tables, in order; "completeness" is citation recall of what is shown.
METRICS: tuple[str, ...] = ("recall@5", "recall@10", "ndcg@10", "mrr", "completeness", "precision", "declined")


def load_sets(names: Iterable[str] | None = None) -> dict[str, list[Question]]:
    """The question sets that exist here, by name; a missing file is skipped, not an error."""
    sets: dict[str, list[Question]] = {}
    for name, path in QUESTION_SETS.items():
        if (names is None or name in names) and path.is_file():
            sets[name] = load_questions(path)
    return sets


def score(question: Question, ranked: list[int], returned: list[int]) -> dict[str, Any]:
    """One question's row: rank metrics on the ranking, citation metrics on what is shown."""
    gold, acceptable = set(question.gold), set(question.acceptable)
    row: dict[str, Any] = {"id": question.id, "type": question.type}
    if not gold:
        row["declined"] = 0.0 if returned else 1.0
        return row
    row.update({
        "recall@5": recall_at_k(ranked, gold, 5, acceptable=acceptable),
        "recall@10": recall_at_k(ranked, gold, 10, acceptable=acceptable),
        "ndcg@10": ndcg_at_k(ranked, gold, acceptable, 10),
        "mrr": reciprocal_rank(ranked, gold, acceptable=acceptable),
        "completeness": citation_recall(set(returned), gold),
        "precision": citation_precision(set(returned), gold, acceptable),
    })  # fmt: skip
    return row


def evaluate(system: System, sets: Mapping[str, Sequence[Question]]) -> list[dict[str, Any]]:
    """Every question of every set through ``system.run``; one row per question."""
    rows = []
    for set_name, questions in sets.items():
        for question in questions:
            retrieval = system.run(question.question)
            row = score(question, positions(retrieval.ranked, REFERENCE), positions(retrieval.returned, REFERENCE))
            row["set"] = set_name
            row["question"] = question.question
            rows.append(row)
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Means per type and overall, per question set, and list-question completeness."""
    def numeric(subset: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k not in ("id", "set", "question")} for r in subset]

    out = summarize(numeric(rows))
    out["sets"] = {name: summarize(numeric([r for r in rows if r["set"] == name]))["overall"]
                   for name in sorted({r["set"] for r in rows})}  # fmt: skip
    list_rows = [r["completeness"] for r in rows if r["type"] in LIST_TYPES and "completeness" in r]
    out["list_completeness"] = sum(list_rows) / len(list_rows) if list_rows else math.nan
    out["list_n"] = len(list_rows)
    return out


def behind(rows_by_system: Mapping[str, list[dict[str, Any]]], ours: str = "paperchat",
           metrics: Sequence[str] = ("ndcg@10", "completeness", "declined")) -> list[dict[str, Any]]:
    """Questions where paperchat scores below the best of the issue's alternatives.

    These are the questions to look at first: each names the metric, both scores and which
    system did better.
    """
    others = issue_alternatives(rows_by_system)
    by_id = {name: {r["id"]: r for r in rows_by_system[name]} for name in rows_by_system}
    out = []
    for row in rows_by_system[ours]:
        for metric in metrics:
            if metric not in row:
                continue
            scores = {name: by_id[name][row["id"]].get(metric, 0.0) for name in others if row["id"] in by_id[name]}
            if not scores:
                continue
            best = max(scores, key=scores.get)
            if row[metric] + 1e-9 < scores[best]:
                out.append({"id": row["id"], "type": row["type"], "question": row.get("question", ""),
                            "metric": metric, "ours": row[metric], "best": scores[best], "by": best})  # fmt: skip
    return out


def issue_alternatives(names: Iterable[str]) -> list[str]:
    """The alternatives issue 5 names; the "+ implied filter" variants are for reference."""
    return [n for n in names if n != "paperchat" and "implied filter" not in n]


def ratios(summaries: Mapping[str, Mapping[str, Any]], ours: str = "paperchat",
           alternatives: Iterable[str] | None = None) -> dict[str, dict[str, float]]:  # fmt: skip
    """paperchat / best alternative, per group (types and overall) and metric.

    ``alternatives`` defaults to the issue's (see :func:`issue_alternatives`). ``nan`` where
    the best alternative scores 0 (the ratio is unbounded, e.g. declining, which no baseline
    ever does) or the metric does not apply to the group.
    """
    allowed = set(issue_alternatives(summaries) if alternatives is None else alternatives) | {ours}
    summaries = {n: s for n, s in summaries.items() if n in allowed}
    groups = {"overall": {n: s["overall"] for n, s in summaries.items()}}
    for name, s in summaries.items():
        for group, values in s["groups"].items():
            groups.setdefault(group, {})[name] = values
    out: dict[str, dict[str, float]] = {}
    for group, by_system in groups.items():
        out[group] = {}
        for metric in METRICS:
            mine = by_system.get(ours, {}).get(metric)
            others = [v[metric] for n, v in by_system.items() if n != ours and metric in v]
            best = max(others) if others else None
            out[group][metric] = (mine / best) if (mine is not None and best) else math.nan
    return out
