"""`paperchat eval` on the project's question set: the report's shape, not its scores.

Quality is measured by the eval report itself (and quoted in the closing notes); this test
guards what scripts read from ``--json`` and ``--report``: every metric per question type
and overall, each a proportion, and one row per question.
"""

from __future__ import annotations

import json
from collections import Counter

RANKING_METRICS = ("recall@5", "recall@10", "ndcg@10", "mrr")
CITATION_METRICS = ("cite_precision", "cite_recall")


def _proportion(value: object) -> bool:
    return isinstance(value, int | float) and 0.0 <= value <= 1.0


def test_eval_json_reports_every_metric_per_type_and_overall(run_cli, bundled_store, repo_root, tmp_path):
    questions = repo_root / "eval" / "questions.jsonl"
    lines = [json.loads(line) for line in questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    per_type = Counter(q["type"] for q in lines)
    answerable_types = {q["type"] for q in lines if q["gold"]}
    unanswerable_types = {q["type"] for q in lines if not q["gold"]}
    report_file = tmp_path / "report.json"

    result = run_cli("eval", questions, "--json", "--report", report_file, "--data-dir", bundled_store, check=0)
    summary = json.loads(result.stdout)

    overall = summary["overall"]
    assert overall["n"] == len(lines)
    for metric in (*RANKING_METRICS, *CITATION_METRICS, "declined"):
        assert _proportion(overall[metric]), (metric, overall.get(metric))
    assert {name: group["n"] for name, group in summary["groups"].items()} == dict(per_type)
    for name in answerable_types:
        group = summary["groups"][name]
        assert all(_proportion(group[m]) for m in (*RANKING_METRICS, *CITATION_METRICS)), (name, group)
    for name in unanswerable_types:
        assert _proportion(summary["groups"][name]["declined"])
        assert "recall@10" not in summary["groups"][name]  # no gold, so no recall to report
    list_questions = summary["list_questions"]
    assert list_questions["n"] > 0
    assert _proportion(list_questions["cite_precision"]) and _proportion(list_questions["cite_recall"])

    rows = json.loads(report_file.read_text(encoding="utf-8"))["rows"]
    assert [row["id"] for row in rows] == [q["id"] for q in lines]
    assert all(row["search_ms"] >= 0 for row in rows)
