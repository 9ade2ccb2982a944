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

#: The decision's reason when no candidate passes the answerability gate.
NOT_RELEVANT_ENOUGH = "nothing relevant enough"


@dataclass
class Candidate:
    """One paper's evidence from each retrieval leg."""

    paper_id: str
    fused: float
    dense: float
    keyword: float
    keyword_share: float
    #: Similarity to the query after pseudo-relevance feedback (equal to ``dense`` without it).
    expanded: float = 0.0
    coverage: float = 0.0
    author_match: bool = False
    structural_match: bool = False


@dataclass(frozen=True)
class RelevancePolicy:
    """Thresholds of the relevance decision; see :func:`decide`. Measured by ``paperchat eval``.

    "Standout" is how far a paper's score rises above the typical candidate's, as a share of
    how far the best paper's does (:func:`standout`): 1.0 for the best, 0.0 for the median.
    """

    #: A list keeps a paper whose dense similarity (after feedback) stands out this much ...
    dense_standout: float = 0.5
    #: ... unless some paper holds ``full_coverage`` of the question's term weight and this
    #: one holds less than ``known_terms_share`` of that: when the listings know every word
    #: of the question, a paper that lacks most of them is a near miss of the embedding
    #: (which cannot read "DP-SGD"), not an answer.
    full_coverage: float = 0.9
    known_terms_share: float = 0.4
    #: A list also keeps a paper that stands out this much on BM25 and this much on dense.
    keyword_standout: float = 0.3
    keyword_dense_standout: float = 0.3
    #: Candidates the median is taken over (the best-ranked).
    spread_pool: int = 50
    #: Measured on both question sets and both stores, among questions whose term coverage
    #: is under ``answerable_coverage``: unanswerable ones top out at 0.433 (machine unlearning
    #: over the 144 orals), answerable ones start at 0.442 (federated learning paraphrased,
    #: 2,610 papers); two answerable paraphrases (0.363, 0.399) sit among the unanswerable,
    #: and only the agreement below answers them. A narrow gap: a larger embedding model
    #: widens it.
    answerable_dense: float = 0.437
    answerable_coverage: float = 0.5
    #: A question is also answerable when both legs pick the same best paper: the paper the
    #: embedding ranks first also stands out this much on BM25, and its similarity is at
    #: least ``agreeing_dense``. A paraphrase in plain words ("test data that looks different
    #: from the training data") scores low on the embedding, but its best paper still shares
    #: its words; a question about a topic the listings lack has its nearest paper by meaning
    #: and its best paper by words disagree (measured: keyword standout of the nearest paper
    #: -0.64 to 0.39 for seven of the eight unanswerable questions, 0.80 to 1.00 for the
    #: two paraphrases the similarity bar declines).
    agreeing_keyword_standout: float = 0.5
    agreeing_dense: float = 0.35
    #: Longest list an answer shows unasked (``-k`` shows more); it says how many matched.
    max_list: int = 50


def decide(
    candidates: list[Candidate], intent: QuestionIntent, policy: RelevancePolicy, has_author_match: bool
) -> tuple[list[Candidate], dict[str, Any]]:
    """Keep the candidates the answer should list, best first, and say why.

    - A question naming an author, or asking a structural question ("single author"), is
      answered by exactly the papers that match it.
    - Otherwise some paper must pass an answerability gate: a strong dense similarity, or a
      paper holding most of the question's term weight (``coverage``; terms no listing uses
      count against it, which is what sinks questions about topics no paper covers), or the
      two legs agreeing on the best paper. If none does, nothing is kept and the answer
      declines.
    - A single-paper question keeps the best paper. A list question keeps every paper that
      stands out from the crowd of candidates on dense similarity, or on keyword score and
      dense similarity together, and every paper holding all of a question's terms when the
      listings know them all (a fixed top-k is wrong both ways; raw thresholds do not
      transfer between questions, standing out does).
    """
    debug: dict[str, Any] = {"policy": asdict(policy)}
    if not candidates:
        return [], {**debug, "reason": "no candidates"}
    if has_author_match:
        return [c for c in candidates if c.author_match], {**debug, "reason": "author names"}
    if intent.structural:
        return [c for c in candidates if c.structural_match], {**debug, "reason": "structural"}

    top_dense = max(c.dense for c in candidates)
    top_coverage = max(c.coverage for c in candidates)
    keyword_lift = standout([c.keyword_share for c in candidates], policy.spread_pool)
    nearest = max(range(len(candidates)), key=lambda i: candidates[i].dense)
    agreeing = top_dense >= policy.agreeing_dense and keyword_lift[nearest] >= policy.agreeing_keyword_standout
    debug.update(top_dense=round(top_dense, 4), top_coverage=round(top_coverage, 4),
                 nearest_keyword_standout=round(keyword_lift[nearest], 4))  # fmt: skip
    if top_dense < policy.answerable_dense and top_coverage < policy.answerable_coverage and not agreeing:
        return [], {**debug, "reason": NOT_RELEVANT_ENOUGH}
    if not intent.wants_list:
        return candidates[:1], {**debug, "reason": "single paper"}

    dense_lift = standout([c.expanded for c in candidates], policy.spread_pool)
    terms_known = top_coverage >= policy.full_coverage
    kept = [
        c
        for c, dense, keyword in zip(candidates, dense_lift, keyword_lift)
        if (dense >= policy.dense_standout
            and (not terms_known or c.coverage > policy.known_terms_share * top_coverage))
        or (keyword >= policy.keyword_standout and dense >= policy.keyword_dense_standout)
        or (terms_known and c.coverage >= 0.99 * top_coverage)
    ]
    debug.update(reason="list")
    return kept or candidates[:1], debug


def standout(similarities: list[float], pool: int) -> list[float]:
    """How far each similarity rises above the median, as a share of how far the best does.

    Raw similarity thresholds do not transfer between questions: a paraphrase with none of
    the abstracts' words scores 0.45 for its best paper and 0.35 for the crowd, a question
    naming its topic 0.60 and 0.20. Relative to the crowd, "clearly part of the answer" looks
    the same in both (measured on both question sets: see ``paperchat eval``). The best and
    the median are taken over the first ``pool`` candidates (the best-ranked): the best paper
    scores 1.0, a typical one 0.0.
    """
    if not similarities:
        return []
    head = similarities[:pool]
    top = max(head)
    median = float(sorted(head)[len(head) // 2])
    spread = top - median
    if spread <= 1e-9:  # all alike (e.g. no paper holds a question term): nothing stands out
        return [0.0] * len(similarities)
    return [(s - median) / spread for s in similarities]
