"""``paperchat eval``: score search and ask against a question set with known answers.

Gold answers are positions in one reference listing (the ICML 2024 virtual-site orals file),
because that is the one listing that holds every oral. Each returned paper is mapped back to
its position through its provenance, so the score does not depend on ids or titles, and a
paper the reference listing does not hold simply never counts as correct.

Answers are streamed as a user gets them, so each row also says how the answering went:
the backend that wrote it (a fallback shows here), invalid citation numbers the engine
dropped, seconds to the first streamed text and to the whole answer. Backends are compared
by running the command once per ``--llm``.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from app.metrics import (
    citation_precision,
    citation_recall,
    declined_correctly,
    load_questions,
    ndcg_at_k,
    reciprocal_rank,
    recall_at_k,
    summarize,
)
from app.papers import Paper

#: Metrics shown in the text report, in order.
REPORT_METRICS: tuple[str, ...] = (
    "recall@5",
    "recall@10",
    "ndcg@10",
    "mrr",
    "cite_precision",
    "cite_recall",
    "declined",
)


def reference_position(paper: Paper, reference: str) -> int | None:
    """The paper's 0-based position in the reference listing, if it came from there."""
    for source in paper.sources:
        if Path(source["file"]).name == reference:
            return int(source["entry"]) - 1
    return None


def positions(papers: list[Paper], reference: str) -> list[int]:
    """Reference positions of papers, in order; papers from other listings map to -1."""
    return [p if (p := reference_position(paper, reference)) is not None else -1 for paper in papers]


def run_eval(pc: Any, questions_path: str | Path, reference: str) -> dict[str, Any]:
    """Run every question through ``search`` (ranking) and ``ask`` (citations); score both."""
    rows: list[dict[str, Any]] = []
    requested = pc.query_engine.backend.name
    for question in load_questions(questions_path):
        gold, acceptable = set(question.gold), set(question.acceptable)
        started = time.perf_counter()
        result = pc.search_result(question.question)
        search_ms = (time.perf_counter() - started) * 1000
        ranked = positions(result.ranked, reference)
        answer, first_s, total_s = timed_answer(pc, question.question)
        cited = set(positions(answer.citations, reference))
        row: dict[str, Any] = {
            "id": question.id,
            "type": question.type,
            "question": question.question,
            "gold": sorted(gold),
            "cited": sorted(cited),
            "top10": ranked[:10],
            "search_ms": round(search_ms, 2),
            "backend": answer.backend,
            "fell_back": answer.backend != requested,  # the model failed, or cited nothing valid
            "dropped_citations": len(answer.debug.get("dropped_citations") or []),
            "first_token_s": round(first_s, 3),
            "total_s": round(total_s, 3),
        }
        if gold:
            row.update({
                "recall@5": recall_at_k(ranked, gold, 5, acceptable=acceptable),
                "recall@10": recall_at_k(ranked, gold, 10, acceptable=acceptable),
                "ndcg@10": ndcg_at_k(ranked, gold, acceptable, 10),
                "mrr": reciprocal_rank(ranked, gold, acceptable=acceptable),
                "cite_precision": citation_precision(cited, gold, acceptable),
                "cite_recall": citation_recall(cited, gold),
            })
        else:
            row["declined"] = 1.0 if declined_correctly(cited, gold) else 0.0
        rows.append(row)
    summary = summarize(rows)
    list_rows = [r for r in rows if r["type"] in ("topic", "paraphrase", "author") and r["gold"]]
    summary["list_questions"] = {
        "cite_precision": _mean(r["cite_precision"] for r in list_rows),
        "cite_recall": _mean(r["cite_recall"] for r in list_rows),
        "n": len(list_rows),
    }
    summary["answering"] = answering_summary(rows)
    return {"questions": str(questions_path), "reference": reference, "summary": summary, "rows": rows}


def timed_answer(pc: Any, question: str) -> tuple[Any, float, float]:
    """The answer, seconds until its first streamed text, and seconds until it was complete."""
    from app.papers import Answer

    started = time.perf_counter()
    first: float | None = None
    answer = None
    for item in pc.stream_ask(question):
        if isinstance(item, Answer):
            answer = item
        elif item and first is None:
            first = time.perf_counter() - started
    total = time.perf_counter() - started
    assert answer is not None, "stream_ask ended without an Answer"
    return answer, first if first is not None else total, total


def answering_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """How the answers were written: by which backend, citations dropped, first-token and total times."""
    first = [r["first_token_s"] for r in rows]
    total = [r["total_s"] for r in rows]
    return {
        "backends": dict(Counter(r["backend"] for r in rows)),
        "fell_back": sum(1 for r in rows if r["fell_back"]),
        "dropped_citations": sum(r["dropped_citations"] for r in rows),
        "answers_with_dropped": sum(1 for r in rows if r["dropped_citations"]),
        "first_token_s": _spread(first),
        "total_s": _spread(total),
        "n": len(rows),
    }


def _spread(values: list[float]) -> dict[str, float]:
    if not values:
        return {"median": float("nan"), "p90": float("nan"), "max": float("nan")}
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 3),
        "p90": round(ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)], 3),
        "max": round(ordered[-1], 3),
    }


def _mean(values: Any) -> float:
    items = [v for v in values if not (isinstance(v, float) and math.isnan(v))]
    return sum(items) / len(items) if items else float("nan")


def format_report(report: dict[str, Any]) -> str:
    """A fixed-width table: one line per question type, then overall."""
    summary = report["summary"]
    header = f"{'type':14}{'n':>4}" + "".join(f"{m:>16}" for m in REPORT_METRICS)
    lines = [f"questions: {report['questions']}  (gold positions in {report['reference']})", header]
    groups = dict(summary["groups"])
    groups["overall"] = summary["overall"]
    for name, values in groups.items():
        cells = "".join(f"{_cell(values.get(m)):>16}" for m in REPORT_METRICS)
        lines.append(f"{name:14}{values.get('n', 0):>4}{cells}")
    lq = summary["list_questions"]
    lines.append(
        f"list questions (topic, paraphrase, author): citation precision {_cell(lq['cite_precision'])}, "
        f"recall {_cell(lq['cite_recall'])} over {lq['n']}"
    )
    answering = summary.get("answering")
    if answering:
        backends = ", ".join(f"{n} by {name}" for name, n in sorted(answering["backends"].items()))
        first, total = answering["first_token_s"], answering["total_s"]
        lines.append(
            f"answers: {backends} ({answering['fell_back']} not by the backend asked for); invalid citations dropped: "
            f"{answering['dropped_citations']} in {answering['answers_with_dropped']} answers; first text "
            f"median {first['median']:.2f} s (p90 {first['p90']:.2f}), whole answer median {total['median']:.2f} s "
            f"(p90 {total['p90']:.2f}, max {total['max']:.2f})"
        )
    misses = [r for r in report["rows"] if r.get("cite_recall", 1.0) < 1.0 or r.get("declined", 1.0) < 1.0]
    if misses:
        lines.append("questions not fully answered:")
        lines.extend(f"  {r['id']} [{r['type']}] gold {r['gold']} cited {r['cited']}: {r['question'][:80]}" for r in misses)
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3f}"
