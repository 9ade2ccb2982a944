"""Metrics checked against hand-computed values, and the project's question set validated.

The question-set checks guard the benchmark itself: a gold index off by one or a question
copied from the shared dev set would silently make every reported number meaningless.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from app.metrics import (
    OVERALL,
    Question,
    QuestionFileError,
    citation_precision,
    citation_recall,
    declined_correctly,
    load_questions,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
    summarize,
)

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "eval" / "questions.jsonl"
LISTING = ROOT / "data" / "listings" / "001_49cbb665570d8f3c.txt"
SHARED = Path(__file__).resolve().parents[2] / "shared"
DEV_QUESTIONS = SHARED / "eval" / "dev_questions.jsonl"
PAPERLISTS = SHARED / "listings" / "paperlists_icml2024.json"

#: Orals in the virtual-site listing that gold positions index into.
N_ORALS = 144
TYPES = {"topic", "paraphrase", "lookup", "author", "detail", "acronym", "unanswerable"}


# ---------------------------------------------------------------------------- recall@k


def test_recall_counts_gold_within_cutoff() -> None:
    assert recall_at_k([5, 1, 2, 3], {1, 3}, k=2) == 0.5
    assert recall_at_k([5, 1, 2, 3], {1, 3}, k=4) == 1.0
    assert recall_at_k([], {1}, k=3) == 0.0


def test_recall_ignores_repeated_papers() -> None:
    # Paper 1 twice must not push paper 3 out of a k=2 cutoff nor count twice.
    assert recall_at_k([1, 1, 3], {1, 3}, k=2) == 1.0


def test_recall_optionally_skips_acceptable() -> None:
    assert recall_at_k([9, 1], {1}, k=1) == 0.0
    assert recall_at_k([9, 1], {1}, k=1, acceptable={9}) == 1.0


def test_recall_is_nan_without_gold() -> None:
    assert math.isnan(recall_at_k([1, 2], set(), k=5))


def test_k_must_be_positive() -> None:
    with pytest.raises(ValueError):
        recall_at_k([1], {1}, k=0)
    with pytest.raises(ValueError):
        ndcg_at_k([1], {1}, set(), k=0)


# ------------------------------------------------------------------------------- nDCG


def test_ndcg_hand_computed() -> None:
    # [g, x, g] with two gold papers.
    expected = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k([1, 7, 2], {1, 2}, set(), k=3) == pytest.approx(expected)


def test_ndcg_perfect_and_empty() -> None:
    assert ndcg_at_k([2, 1, 9], {1, 2}, set(), k=3) == pytest.approx(1.0)
    assert ndcg_at_k([8, 9], {1, 2}, set(), k=2) == 0.0
    assert math.isnan(ndcg_at_k([1], set(), set(), k=3))


def test_ndcg_ideal_is_capped_at_k() -> None:
    # Three gold papers but k=1: one gold paper at rank 1 is already ideal.
    assert ndcg_at_k([1], {1, 2, 3}, set(), k=1) == pytest.approx(1.0)
    # k=2, gold at ranks 1 and 2 out of 3 gold: ideal DCG uses only 2 slots.
    assert ndcg_at_k([1, 2, 3], {1, 2, 3}, set(), k=2) == pytest.approx(1.0)


def test_ndcg_acceptable_is_neither_rewarded_nor_penalised() -> None:
    # Acceptable 5 above gold 1 is removed: same as [1, 7, 2].
    with_acceptable = ndcg_at_k([5, 1, 7, 2], {1, 2}, {5}, k=4)
    assert with_acceptable == pytest.approx(ndcg_at_k([1, 7, 2], {1, 2}, set(), k=4))
    # Only acceptable papers ranked: no gain, but no penalty beyond missing gold.
    assert ndcg_at_k([5, 6], {1}, {5, 6}, k=2) == 0.0
    # The same paper treated as irrelevant instead costs rank.
    assert ndcg_at_k([5, 1], {1}, set(), k=2) == pytest.approx(1 / math.log2(3))
    # Removing acceptable papers lets a gold paper move inside the cutoff.
    assert ndcg_at_k([5, 1], {1}, {5}, k=1) == pytest.approx(1.0)


def test_ndcg_gold_wins_over_acceptable() -> None:
    assert ndcg_at_k([1], {1}, {1}, k=1) == pytest.approx(1.0)


# --------------------------------------------------------------------- reciprocal rank


def test_reciprocal_rank() -> None:
    assert reciprocal_rank([4, 5, 1], {1, 9}) == pytest.approx(1 / 3)
    assert reciprocal_rank([1], {1}) == 1.0
    assert reciprocal_rank([4, 5], {1}) == 0.0
    assert math.isnan(reciprocal_rank([4], set()))


def test_reciprocal_rank_dedupes_and_optionally_skips_acceptable() -> None:
    assert reciprocal_rank([4, 4, 1], {1}) == pytest.approx(1 / 2)
    assert reciprocal_rank([4, 5, 1], {1}, acceptable={4}) == pytest.approx(1 / 2)


# -------------------------------------------------------------------- citation metrics


def test_citation_precision_counts_gold_and_acceptable() -> None:
    assert citation_precision({1, 2, 5, 9}, {1, 2}, {5}) == pytest.approx(3 / 4)
    assert citation_precision({5}, {1}, {5}) == 1.0
    assert citation_precision({9}, {1}, set()) == 0.0


def test_citation_precision_when_nothing_cited() -> None:
    assert citation_precision(set(), set(), set()) == 1.0  # declined an unanswerable question
    assert citation_precision(set(), {1}, {2}) == 0.0  # declined an answerable one


def test_citation_precision_on_unanswerable_with_citations() -> None:
    assert citation_precision({3}, set(), set()) == 0.0


def test_citation_recall() -> None:
    assert citation_recall({1, 5}, {1, 2}) == 0.5
    assert citation_recall(set(), {1}) == 0.0
    assert citation_recall({1, 2, 3}, {1, 2}) == 1.0
    assert math.isnan(citation_recall({1}, set()))


def test_declined_correctly() -> None:
    assert declined_correctly(set(), set()) is True
    assert declined_correctly({4}, set()) is False
    with pytest.raises(ValueError):
        declined_correctly(set(), {1})


# ---------------------------------------------------------------------------- summarize


def test_summarize_means_per_group_and_overall_ignoring_nan() -> None:
    rows = [
        {"id": "a", "type": "topic", "recall": 1.0, "precision": 0.5},
        {"id": "b", "type": "topic", "recall": 0.0, "precision": float("nan")},
        {"id": "c", "type": "unanswerable", "recall": float("nan"), "declined": True},
        {"id": "d", "type": "unanswerable", "recall": float("nan"), "declined": False},
    ]
    out = summarize(rows)
    topic = out["groups"]["topic"]
    assert topic == {"recall": 0.5, "precision": 0.5, "n": 2}
    unanswerable = out["groups"]["unanswerable"]
    assert "recall" not in unanswerable  # all nan: omitted, not reported as nan
    assert unanswerable["declined"] == 0.5
    assert unanswerable["n"] == 2
    overall = out[OVERALL]
    assert overall["n"] == 4
    assert overall["recall"] == 0.5  # mean of 1.0 and 0.0; nan rows ignored
    assert overall["declined"] == 0.5
    assert "id" not in overall and "type" not in overall


def test_summarize_custom_group_key_and_empty() -> None:
    out = summarize([{"kind": "x", "m": 1}, {"kind": "y", "m": 3}], group_key="kind")
    assert out["groups"]["x"]["m"] == 1.0
    assert out[OVERALL]["m"] == 2.0
    assert summarize([]) == {OVERALL: {"n": 0}, "groups": {}}


# ------------------------------------------------------------------------ load_questions


def test_load_questions_reads_fields(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    record = {
        "id": "x1", "type": "topic", "question": "Which?", "gold": [3, 1],
        "acceptable": [2], "notes": "n", "gold_titles": ["A", None], "acceptable_titles": ["B"],
    }
    path.write_text(json.dumps(record) + "\n\n", encoding="utf-8")
    (q,) = load_questions(path)
    assert q == Question("x1", "topic", "Which?", [3, 1], [2], ["A", None], ["B"], "n")
    assert q.answerable


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"id": "b", "type": "topic", "question": "Q?"}', "gold"),
        ('{"id": "b", "type": "topic", "question": "Q?", "gold": ["3"]}', "integers"),
        ('{"id": "b", "type": "topic", "question": "Q?", "gold": [true]}', "integers"),
        ('{"id": "", "type": "topic", "question": "Q?", "gold": []}', "'id'"),
        ('{"id": "a", "type": "topic", "question": "Q?", "gold": []}', "duplicate id"),
    ],
)
def test_load_questions_names_file_and_line(tmp_path: Path, bad_line: str, reason: str) -> None:
    path = tmp_path / "bad.jsonl"
    good = json.dumps({"id": "a", "type": "topic", "question": "Q?", "gold": [1]})
    path.write_text(f"{good}\n\n{bad_line}\n", encoding="utf-8")
    with pytest.raises(QuestionFileError) as info:
        load_questions(path)
    message = str(info.value)
    assert f"{path}:3:" in message
    assert reason in message


# --------------------------------------------------------------- the project's question set


@pytest.fixture(scope="module")
def questions() -> list[Question]:
    return load_questions(QUESTIONS)


def test_listing_has_the_expected_number_of_orals() -> None:
    text = LISTING.read_text(encoding="utf-8")
    assert sum(1 for line in text.splitlines() if line.strip() == "Abstract") == N_ORALS


def test_question_set_shape(questions: list[Question]) -> None:
    assert len(questions) >= 40
    assert len({q.id for q in questions}) == len(questions)
    assert all(re.fullmatch(r"p\d{3}", q.id) for q in questions)
    assert {q.type for q in questions} == TYPES
    assert len({q.question.strip().lower() for q in questions}) == len(questions)


def test_question_indices_valid(questions: list[Question]) -> None:
    for q in questions:
        for idx in q.gold + q.acceptable:
            assert 0 <= idx < N_ORALS, (q.id, idx)
        assert len(set(q.gold)) == len(q.gold), q.id
        assert len(set(q.acceptable)) == len(q.acceptable), q.id
        assert not set(q.gold) & set(q.acceptable), q.id
        assert len(q.gold_titles) == len(q.gold), q.id
        assert len(q.acceptable_titles) == len(q.acceptable), q.id
        assert q.notes.strip(), q.id


def test_unanswerable_have_no_gold_and_others_do(questions: list[Question]) -> None:
    for q in questions:
        if q.type == "unanswerable":
            assert q.gold == [] and q.acceptable == [], q.id
        else:
            assert q.gold, q.id


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def test_questions_differ_from_dev_set(questions: list[Question]) -> None:
    if not DEV_QUESTIONS.exists():
        pytest.skip(f"no shared dev set at {DEV_QUESTIONS}")
    dev = {_normalise(q.question) for q in load_questions(DEV_QUESTIONS)}
    clashes = [q.id for q in questions if _normalise(q.question) in dev]
    assert not clashes


def test_titles_match_paperlists_orals(questions: list[Question]) -> None:
    if not PAPERLISTS.exists():
        pytest.skip(f"no shared paperlists file at {PAPERLISTS}")
    orals = {
        p["title"] for p in json.loads(PAPERLISTS.read_text(encoding="utf-8"))
        if p.get("status") == "Oral"
    }
    # The same position must always carry the same title across questions.
    title_of: dict[int, str] = {}
    for q in questions:
        for idx, title in zip(q.gold + q.acceptable, q.gold_titles + q.acceptable_titles):
            if title is None:
                continue
            assert title in orals, (q.id, title)
            assert title_of.setdefault(idx, title) == title, (q.id, idx)
