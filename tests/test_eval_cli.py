"""`paperchat eval` on the project's question set: the report's shape, not its scores.

Quality is measured by the eval report itself (and quoted in the closing notes); this test
guards what scripts read from ``--json`` and ``--report``: every metric per question type
and overall, each a proportion, and one row per question.
"""

from __future__ import annotations

import json
from collections import Counter

from openai_stub import FAKE_KEY, obedient, running_stub, sources_in

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

    answering = summary["answering"]
    assert answering["backends"] == {"extractive": len(lines)} and answering["fell_back"] == 0
    assert answering["dropped_citations"] == answering["answers_with_dropped"] == 0  # extractive cites no numbers
    for timing in ("first_token_s", "total_s"):
        spread = answering[timing]
        assert 0 <= spread["median"] <= spread["p90"] <= spread["max"], (timing, spread)

    rows = json.loads(report_file.read_text(encoding="utf-8"))["rows"]
    assert [row["id"] for row in rows] == [q["id"] for q in lines]
    assert all(row["search_ms"] >= 0 for row in rows)
    assert all(0 <= row["first_token_s"] <= row["total_s"] for row in rows)


def test_eval_report_says_how_a_model_answered(run_cli, cli_env, bundled_store, repo_root, tmp_path):
    """Through the stub server: the text report names the backend, dropped citations and times."""
    def one_bad_number(request):
        reply = obedient(request)
        if sources_in(request):
            reply.text += f" See also [{len(sources_in(request)) + 1}]."
        return reply

    questions = tmp_path / "q.jsonl"
    rows = [json.loads(line) for line in (repo_root / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()[:3]]
    questions.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    with running_stub() as stub:
        stub.script = one_bad_number
        env = {**cli_env, "OPENAI_API_KEY": FAKE_KEY, "OPENAI_BASE_URL": stub.base_url, "PAPERCHAT_LLM_RETRIES": "0"}
        result = run_cli("eval", questions, "--llm", "openai", "--data-dir", bundled_store, env=env, check=0)
        asked = len(stub.chat_requests)
    line = next(line for line in result.stdout.splitlines() if line.startswith("answers: "))
    assert f"answers: {len(rows)} by openai (0 not by the backend asked for)" in line
    assert f"invalid citations dropped: {asked} in {asked} answers" in line and asked > 0
    assert "first text median" in line and "whole answer median" in line
