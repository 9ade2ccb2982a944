"""How many of the ranked papers an answer should list.

A fixed top-k is wrong both ways: "which orals study DP-SGD?" has two answers and "which
orals involve differential privacy?" eight. Each candidate carries the evidence of both
retrieval legs; a paper is kept when either leg alone is confident about it, measured
relative to the best paper for this question (scores vary a lot between questions) and
above an absolute floor (so a question nothing matches keeps nothing).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from app.question import QuestionIntent


@dataclass
class Candidate:
    """One paper's evidence from each retrieval leg."""

    paper_id: str
    fused: float
    dense: float
    keyword: float
    keyword_share: float
    coverage: float = 0.0
    author_match: bool = False
    structural_match: bool = False


@dataclass(frozen=True)
class RelevancePolicy:
    """Thresholds of the relevance decision; see :func:`decide`. Measured by ``paperchat eval``."""

    dense_floor: float = 0.30
    dense_margin: float = 0.06
    coverage_share: float = 0.5
    coverage_dense_margin: float = 0.20
    answerable_dense: float = 0.43
    answerable_coverage: float = 0.5
    max_list: int = 50


def decide(
    candidates: list[Candidate], intent: QuestionIntent, policy: RelevancePolicy, has_author_match: bool
) -> tuple[list[Candidate], dict[str, Any]]:
    """Keep the candidates the answer should list, best first, and say why.

    - A question naming an author, or asking a structural question ("single author"), is
      answered by exactly the papers that match it.
    - Otherwise some paper must pass an answerability gate: a strong dense similarity, or a
      paper holding most of the question's term weight (``coverage``; terms no listing uses
      count against it, which is what sinks questions about topics no paper covers). If
      none does, nothing is kept and the answer declines.
    - A single-paper question keeps the best paper. A list question keeps every paper that
      dense similarity puts close to the best one, and every paper whose term coverage is
      close to the best coverage while dense similarity does not rule it out.
    """
    debug: dict[str, Any] = {"policy": asdict(policy)}
    if not candidates:
        return [], {**debug, "reason": "no candidates"}
    if has_author_match:
        return [c for c in candidates if c.author_match], {**debug, "reason": "author names"}
    if intent.single_author_only:
        return [c for c in candidates if c.structural_match], {**debug, "reason": "structural"}

    top_dense = max(c.dense for c in candidates)
    top_coverage = max(c.coverage for c in candidates)
    debug.update(top_dense=round(top_dense, 4), top_coverage=round(top_coverage, 4))
    if top_dense < policy.answerable_dense and top_coverage < policy.answerable_coverage:
        return [], {**debug, "reason": "nothing relevant enough"}
    if not intent.wants_list:
        return candidates[:1], {**debug, "reason": "single paper"}

    dense_cut = max(policy.dense_floor, top_dense - policy.dense_margin)
    kept = [
        c
        for c in candidates
        if c.dense >= dense_cut
        or (
            c.coverage >= policy.coverage_share * top_coverage
            and c.dense >= top_dense - policy.coverage_dense_margin
        )
    ]
    debug.update(dense_cut=round(dense_cut, 4), reason="list")
    return kept[: policy.max_list], debug
