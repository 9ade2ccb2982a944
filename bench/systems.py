"""The retrieval systems compared: paperchat and the alternatives a user would pick instead.

Every system answers a question with two lists of :class:`~app.papers.Paper`:

* ``ranked``: its ranking, scored by recall@k, nDCG@10 and MRR;
* ``returned``: what it would actually show the user, scored for completeness (citation
  recall), precision and declining. For paperchat that is the relevance-kept set (empty when
  it declines); a baseline has no notion of "nothing matches", so it shows its top-k.

The baselines reuse paperchat's stored records and vectors, so the comparison isolates
retrieval: same papers, same embedder, same texts.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from app.keyword import KeywordIndex
from app.papers import Paper
from app.question import read_intent
from app.search import chroma_where
from ingest.records import PaperRecord
from vectorstore.embedding import Embedder
from vectorstore.store import PaperStore

#: What a tutorial retriever shows (llama-index ``similarity_top_k=5``); used for every baseline.
BASELINE_TOP_K = 5
#: Ranking depth scored; deeper than nDCG@10 needs.
RANK_DEPTH = 20


@dataclass
class Retrieval:
    """One system's answer to one question."""

    ranked: list[Paper]
    returned: list[Paper]

    @property
    def declined(self) -> bool:
        return not self.returned


class System(Protocol):
    """A named retriever; ``run`` is what is scored and timed."""

    name: str

    def run(self, question: str) -> Retrieval: ...


class PaperChatSystem:
    """paperchat's default search: hybrid retrieval, then the relevance decision."""

    name = "paperchat"

    def __init__(self, pc: Any) -> None:
        self.pc = pc

    def run(self, question: str) -> Retrieval:
        result = self.pc.search_result(question)
        return Retrieval(ranked=list(result.ranked), returned=list(result.papers))


class ImpliedFilters:
    """The metadata filters paperchat reads from a question ("orals" -> status Oral).

    Giving a baseline the same filters separates what paperchat gains from reading the
    question's metadata from what it gains in retrieval itself.
    """

    def __init__(self, records: Sequence[PaperRecord]) -> None:
        self.venues = {r.venue for r in records if r.venue}
        self.years = {r.year for r in records if r.year}
        self.statuses = {r.status for r in records if r.status}

    def __call__(self, question: str) -> dict[str, str | int]:
        return read_intent(question, self.venues, self.years, self.statuses).implied_filters


class KeywordSystem:
    """BM25 alone over title + abstract, as a listing site's search box does.

    It reuses paperchat's BM25 index class (same tokenizer, stemmer and title weighting) on
    records whose authors are blanked, so only the fields a search box indexes are searched.
    With ``implied_filters`` it is the search box with the status/venue/year filter set.
    """

    def __init__(self, records: Sequence[PaperRecord], top_k: int = BASELINE_TOP_K,
                 implied_filters: bool = False) -> None:  # fmt: skip
        self.records = list(records)
        blanked = []
        for record in self.records:
            twin = copy.copy(record)
            twin.authors = []
            blanked.append(twin)
        self.index = KeywordIndex(blanked, expand_acronyms=False)
        self.top_k = top_k
        self.filters = ImpliedFilters(self.records) if implied_filters else None
        self.name = "BM25 alone" + (" + implied filter" if implied_filters else "")

    def run(self, question: str) -> Retrieval:
        scores = self.index.scores(question)
        if self.filters is not None:
            for key, value in self.filters(question).items():
                scores = np.where([getattr(r, key) == value for r in self.records], scores, 0.0)
        order = np.argsort(-scores, kind="stable")[:RANK_DEPTH]
        ranked = [Paper.from_record(self.records[i], float(scores[i])) for i in order if scores[i] > 0]
        return Retrieval(ranked=ranked, returned=ranked[: self.top_k])


class DenseSystem:
    """Dense retrieval alone: nearest chunks in paperchat's Chroma store, best chunk per paper."""

    def __init__(self, store: PaperStore, embedder: Embedder, records: Sequence[PaperRecord],
                 top_k: int = BASELINE_TOP_K, implied_filters: bool = False) -> None:  # fmt: skip
        self.store = store
        self.embedder = embedder
        self.by_id = {r.id: r for r in records}
        self.top_k = top_k
        self.filters = ImpliedFilters(records) if implied_filters else None
        self.name = "dense alone" + (" + implied filter" if implied_filters else "")

    def run(self, question: str) -> Retrieval:
        vector = self.embedder.embed([question])[0]
        where = chroma_where(self.filters(question)) if self.filters is not None else None
        best: dict[str, float] = {}
        for hit in self.store.query(vector, n_results=RANK_DEPTH * 3, where=where):
            if hit.paper_id in self.by_id and hit.paper_id not in best:
                best[hit.paper_id] = hit.similarity  # hits arrive most similar first
        ranked = [Paper.from_record(self.by_id[pid], score) for pid, score in best.items()][:RANK_DEPTH]
        return Retrieval(ranked=ranked, returned=ranked[: self.top_k])
