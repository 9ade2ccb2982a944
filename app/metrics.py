"""Scoring functions for the evaluation question sets, and their loader.

Every function here is pure and imports nothing from the project, so the numbers a benchmark
reports can be checked by hand and do not move when retrieval or prompting code changes.

Conventions, decided once so every report means the same thing:

* Papers are identified by their 0-based position in the listing the questions were written
  against (``gold`` / ``acceptable`` in the question files).
* ``gold`` papers must be cited; ``acceptable`` papers may be cited without penalty. An
  acceptable paper is *neither rewarded nor penalised*: rank metrics drop it from the ranked
  list before scoring (so it neither earns gain nor pushes gold papers down), and citation
  precision counts it as a correct citation.
* Unanswerable questions have empty ``gold``. Rank metrics and citation recall are undefined
  for them and return ``nan``; they are scored by :func:`declined_correctly` instead.
  :func:`summarize` ignores ``nan``, so they drop out of rank-metric means rather than
  dragging them to 0 or 1.
* A ranked list may repeat a paper (several chunks of one abstract); only its first
  occurrence counts, so a paper cannot earn gain twice.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NAN = float("nan")

#: Key under which :func:`summarize` reports the all-rows aggregate.
OVERALL = "overall"


# --------------------------------------------------------------------------- rank metrics


def _effective_ranking(
    ranked: Sequence[int], gold: Collection[int], acceptable: Collection[int]
) -> list[int]:
    """Deduplicate ``ranked`` and drop acceptable-but-not-gold papers, keeping order.

    Gold wins over acceptable if a paper is (wrongly) in both, so a malformed question can
    only make scoring stricter, never hide a gold paper.
    """
    seen: set[int] = set()
    out: list[int] = []
    for paper in ranked:
        if paper in seen:
            continue
        seen.add(paper)
        if paper in acceptable and paper not in gold:
            continue
        out.append(paper)
    return out


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def recall_at_k(
    ranked: Sequence[int],
    gold: Collection[int],
    k: int,
    *,
    acceptable: Collection[int] = frozenset(),
) -> float:
    """Share of gold papers found in the first ``k`` ranked results.

    ``nan`` when ``gold`` is empty (unanswerable: there is nothing to recall). Pass
    ``acceptable`` to apply the same neutral treatment as :func:`ndcg_at_k`, i.e. acceptable
    papers do not use up any of the ``k`` slots; by default they do.
    """
    _check_k(k)
    gold_set = set(gold)
    if not gold_set:
        return NAN
    top = _effective_ranking(ranked, gold_set, acceptable)[:k]
    return len(gold_set.intersection(top)) / len(gold_set)


def ndcg_at_k(
    ranked: Sequence[int],
    gold: Collection[int],
    acceptable: Collection[int],
    k: int,
) -> float:
    """Normalised discounted cumulative gain at ``k`` with binary gains (gold = 1).

    Acceptable papers are removed from ``ranked`` before scoring, so ranking one above a gold
    paper costs nothing. The ideal DCG places ``min(|gold|, k)`` gold papers at the top, so a
    question with many gold papers cannot reach 1.0 unless they fill the first ranks.
    ``nan`` when ``gold`` is empty.

    Example: ranked ``[g1, x, g2]`` with two gold papers gives
    ``(1 + 1/log2(4)) / (1 + 1/log2(3))``.
    """
    _check_k(k)
    gold_set = set(gold)
    if not gold_set:
        return NAN
    top = _effective_ranking(ranked, gold_set, acceptable)[:k]
    dcg = sum(1.0 / math.log2(rank + 1) for rank, p in enumerate(top, start=1) if p in gold_set)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(gold_set), k) + 1))
    return dcg / ideal


def reciprocal_rank(
    ranked: Sequence[int],
    gold: Collection[int],
    *,
    acceptable: Collection[int] = frozenset(),
) -> float:
    """``1 / rank`` of the first gold paper; 0.0 if none is ranked; ``nan`` if gold is empty.

    Pass ``acceptable`` to skip acceptable papers when counting ranks (as :func:`ndcg_at_k`
    does); by default every ranked paper counts.
    """
    gold_set = set(gold)
    if not gold_set:
        return NAN
    for rank, paper in enumerate(_effective_ranking(ranked, gold_set, acceptable), start=1):
        if paper in gold_set:
            return 1.0 / rank
    return 0.0


# ----------------------------------------------------------------------- citation metrics


def citation_precision(
    cited: Collection[int], gold: Collection[int], acceptable: Collection[int]
) -> float:
    """Share of cited papers that are gold or acceptable.

    Nothing cited: 1.0 when ``gold`` is empty (declining was right), 0.0 otherwise. The
    second case is a choice: the vacuous 1.0 would let a system that always declines score
    perfect precision on every answerable question, so an empty answer to an answerable
    question counts as an answer with no correct citation.
    """
    cited_set = set(cited)
    if not cited_set:
        return 1.0 if not gold else 0.0
    allowed = set(gold) | set(acceptable)
    return len(cited_set & allowed) / len(cited_set)


def citation_recall(cited: Collection[int], gold: Collection[int]) -> float:
    """Share of gold papers that were cited; ``nan`` when ``gold`` is empty (unanswerable)."""
    gold_set = set(gold)
    if not gold_set:
        return NAN
    return len(gold_set & set(cited)) / len(gold_set)


def declined_correctly(cited: Collection[int], gold: Collection[int]) -> bool:
    """For an unanswerable question (empty ``gold``): True when nothing was cited.

    Raises ``ValueError`` for answerable questions, where "declining" is not a success
    criterion and a silent False would be mistaken for a real score.
    """
    if gold:
        raise ValueError("declined_correctly applies only to unanswerable questions (empty gold)")
    return not cited


# ---------------------------------------------------------------------------- aggregation


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value))


def _means(rows: Iterable[Mapping[str, Any]], skip: str) -> dict[str, float]:
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    n = 0
    for row in rows:
        n += 1
        for key, value in row.items():
            if key == skip or not _is_number(value):
                continue
            sums[key] = sums.get(key, 0.0) + float(value)
            counts[key] = counts.get(key, 0) + 1
    stats = {key: sums[key] / counts[key] for key in sorted(sums)}
    stats["n"] = n
    return stats


def summarize(rows: list[dict[str, Any]], group_key: str = "type") -> dict[str, Any]:
    """Mean of every numeric field per group and over all rows, ignoring ``nan``.

    Returns ``{"overall": {...}, "groups": {group: {...}}}``; each inner dict maps a metric to
    its mean plus ``"n"``, the number of rows. Booleans count as 0/1; strings and other
    non-numbers (ids, question text) are skipped. A metric that is ``nan`` or missing in every
    row of a group is omitted from that group rather than reported as ``nan``, so recall does
    not appear for unanswerable questions and ``declined_correctly`` appears only where it
    applies. The overall mean is over rows (micro-average), not a mean of group means.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(str(row.get(group_key, "?")), []).append(row)
    return {
        OVERALL: _means(rows, skip=group_key),
        "groups": {name: _means(members, skip=group_key) for name, members in sorted(groups.items())},
    }


# ------------------------------------------------------------------------- question files


class QuestionFileError(ValueError):
    """A question file line could not be read; the message names the file and line."""


@dataclass(frozen=True)
class Question:
    """One evaluation question, as written in a ``questions.jsonl`` line."""

    id: str
    type: str
    question: str
    gold: list[int]
    acceptable: list[int] = field(default_factory=list)
    gold_titles: list[str | None] = field(default_factory=list)
    acceptable_titles: list[str | None] = field(default_factory=list)
    notes: str = ""

    @property
    def answerable(self) -> bool:
        """False for questions no paper answers (empty gold)."""
        return bool(self.gold)


def _int_list(obj: Mapping[str, Any], key: str, required: bool) -> list[int]:
    if key not in obj:
        if required:
            raise ValueError(f"missing required field {key!r}")
        return []
    value = obj[key]
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise ValueError(f"{key!r} must be a list of integers, got {value!r}")
    return list(value)


def _title_list(obj: Mapping[str, Any], key: str) -> list[str | None]:
    value = obj.get(key, [])
    if not isinstance(value, list) or not all(v is None or isinstance(v, str) for v in value):
        raise ValueError(f"{key!r} must be a list of strings or nulls, got {value!r}")
    return list(value)


def _parse_question(line: str) -> Question:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    for key in ("id", "type", "question"):
        if not isinstance(obj.get(key), str) or not obj[key].strip():
            raise ValueError(f"field {key!r} must be a non-empty string")
    notes = obj.get("notes", "")
    if not isinstance(notes, str):
        raise ValueError("field 'notes' must be a string")
    return Question(
        id=obj["id"],
        type=obj["type"],
        question=obj["question"],
        gold=_int_list(obj, "gold", required=True),
        acceptable=_int_list(obj, "acceptable", required=False),
        gold_titles=_title_list(obj, "gold_titles"),
        acceptable_titles=_title_list(obj, "acceptable_titles"),
        notes=notes,
    )


def load_questions(path: str | Path) -> list[Question]:
    """Read a JSON-lines question file; blank lines are skipped.

    Raises :class:`QuestionFileError` naming ``path`` and the 1-based line number for a line
    that is not a JSON object, lacks ``id``/``type``/``question``/``gold``, has non-integer
    paper positions, or repeats an earlier id.
    """
    path = Path(path)
    questions: list[Question] = []
    first_line: dict[str, int] = {}
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                q = _parse_question(line)
            except ValueError as exc:
                raise QuestionFileError(f"{path}:{lineno}: {exc}") from None
            if q.id in first_line:
                raise QuestionFileError(
                    f"{path}:{lineno}: duplicate id {q.id!r} (first on line {first_line[q.id]})"
                )
            first_line[q.id] = lineno
            questions.append(q)
    return questions
