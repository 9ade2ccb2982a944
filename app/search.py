"""Hybrid retrieval: dense (Chroma) + BM25 + author names, fused, then a relevance decision.

Each leg is good at something the other misses: embeddings find paraphrases, BM25 finds
exact terms, acronyms and numbers, and only the authors field can answer "which orals did
X write". What the question names is read first (:mod:`app.reading`) and narrows the
papers searched, like a filter (:mod:`app.narrowing`): an institution ("from Google
DeepMind"), an author beside a topic ("papers by Yoshua Bengio about causality"), an author
count, a word in titles. Rankings are fused with reciprocal rank fusion (one hit per
paper), and then a relevance decision (:mod:`app.relevance`) says how many of them the
answer should list, so a list question is answered completely rather than cut at a fixed
top-k.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app import exact_dense
from app.affiliations import AffiliationIndex, AffiliationMatch
from app.author_count import AuthorCount
from app.authors import AuthorIndex, AuthorMatch
from app.exclusion import about, exclusion_note
from app.keyword import KeywordIndex
from app.narrowing import Narrowed, Narrower
from app.papers import Paper
from app.prolific import prolific, prolific_authors, summary
from app.question import QuestionIntent, no_topic_notice, topic_text
from app.reading import QuestionReader, ReadQuestion
from app.relevance import NOT_RELEVANT_ENOUGH, Candidate, RelevancePolicy, decide
from app.similar import TitleIndex
from app.tally import tally_line
from app.themes import Theme, common_themes, examples, themes_line
from app.text import content_terms, counted
from ingest.records import PaperRecord
from vectorstore.embedding import Embedder
from vectorstore.store import PaperStore, StoreUnavailableError

FILTER_FIELDS: tuple[str, ...] = ("venue", "year", "status")
RRF_K = 60
#: Weight of the dense leg in fusion relative to BM25 (1.0).
DENSE_WEIGHT = 1.3
#: The BM25 leg weighs up to this much more when its best paper holds most of the question's
#: term weight (coverage 0.5 -> +0, 1.0 -> +this): "90.0% ImageNet top-1 with a vanilla ViT-H"
#: is answered by the paper holding those exact tokens, which the embedding reads as generic
#: vision text (measured: nDCG@10 0.910 -> 0.936 on the merged store, no set worse).
KEYWORD_CONFIDENCE_BOOST = 0.5
#: A single-paper question is answered by the paper holding at least this share of its term
#: weight and the top BM25 score when the fused winner holds under ``EXACT_MATCH_MARGIN`` of
#: that share: rank fusion only sees that the paper is first on BM25, not that it holds twice
#: the next paper's evidence, so a generic-sounding paper the embedding likes can outrank it.
EXACT_MATCH_COVERAGE = 0.8
EXACT_MATCH_MARGIN = 0.6
#: How deep each leg looks before fusion; deeper than any answer we would give.
LEG_DEPTH = 100
#: Papers shown as "closest, not matches" when an answer declines.
NEAREST_SHOWN = 3
#: Pseudo-relevance feedback for the relevance decision: the query vector is moved towards
#: the mean vector of the fused ranking's best ``PRF_SEEDS`` papers (by ``PRF_WEIGHT``) and
#: the dense leg runs again. A short question embeds poorly next to 200-word abstracts; the
#: best few papers say what it is about in the abstracts' own language, so the papers like
#: them stand out more clearly from the rest (list recall up on every eval run). The ranking
#: itself stays on the plain query, where feedback measured slightly worse.
PRF_SEEDS = 3
PRF_WEIGHT = 0.3
#: Best-ranked candidates scored against the refined query (the rest are not compared).
PRF_POOL = 100
#: Filtered subsets whose themes the searcher keeps ("What topics are most common?").
THEMES_CACHED = 32
#: Papers whose chunk vectors the searcher keeps in memory (1.5 KB a chunk) for feedback.
VECTOR_CACHE_PAPERS = 20_000


class FilterError(ValueError):
    """A filter that names an unknown field or has a value of the wrong type."""


def validate_filters(where: dict[str, Any] | None) -> dict[str, str | int]:
    """Accept only known fields with scalar values, so nothing reaches Chroma's ``where`` raw."""
    if where is not None and not isinstance(where, Mapping):
        raise FilterError(f"filters must map a field to a value, e.g. {{'status': 'Oral'}}; got {_shown(where)}")
    clean: dict[str, str | int] = {}
    for key, value in (where or {}).items():
        if key not in FILTER_FIELDS:
            raise FilterError(f"unknown filter field {_shown(key)}; use one of {', '.join(FILTER_FIELDS)}")
        if key == "year":
            # a bool is an int to Python and 2.5 would truncate to 2: only a year is a year
            text = str(value).strip() if isinstance(value, (int, str)) and not isinstance(value, bool) else ""
            if not re.fullmatch(r"[0-9]{4}", text):
                raise FilterError(f"year must be a four-digit year like 2024, got {_shown(value)}")
            clean[key] = int(text)
        elif isinstance(value, str) and value.strip() and len(value) <= 200:
            clean[key] = value.strip()
        else:
            raise FilterError(f"{key} must be a short text value, got {_shown(value)}")
    return clean


def _shown(value: Any) -> str:
    """A value as an error message quotes it: an over-long one is cut, not echoed whole."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}... ({len(text):,} characters)"


def chroma_where(filters: dict[str, str | int]) -> dict[str, Any] | None:
    """Chroma's ``where`` clause for validated filters ($and when there are several)."""
    clauses = [{key: {"$eq": value}} for key, value in filters.items()]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


@dataclass
class SearchResult:
    """Papers kept by the relevance decision, best first, and how the decision was reached."""

    question: str
    papers: list[Paper]
    searched: int
    filters: dict[str, str | int]
    implied_filters: dict[str, str | int]
    intent: QuestionIntent
    #: Every candidate ranked, best first (up to ``LEG_DEPTH``): what rank metrics score.
    ranked: Sequence[Paper] = field(default_factory=list)
    debug: dict[str, Any] = field(default_factory=dict)
    #: What the user should know about how this result was reached (a degraded search).
    notices: list[str] = field(default_factory=list)
    #: When nothing passed the relevance bar: the best-ranked few, to show as "closest, not
    #: matches" (never cited): the bar also turns away some paraphrased questions that do
    #: have answers, and a reader can tell from three titles what a score cannot.
    nearest: list[Paper] = field(default_factory=list)
    #: The question's keywords as keyword search read them (both forms of an acronym), for
    #: picking evidence; empty means "the question's own words".
    terms: frozenset[str] = frozenset()
    #: Institutions the question named; the papers searched were narrowed to theirs.
    affiliations: list[AffiliationMatch] = field(default_factory=list)
    #: Authors the question named. Alone, they are the answer ("Which orals did X
    #: co-author?"); with a topic (``author_topic``), their papers were searched for it.
    authors: list[AuthorMatch] = field(default_factory=list)
    author_topic: bool = False
    #: How many papers matched when the question asked for fewer ("give me 3 papers on X")
    #: and ``papers`` holds only the best of them; None when ``papers`` is every match.
    matched_in_all: int | None = None
    #: The paper the question asked for neighbours of ("papers like ViP"), left out of ``papers``.
    similar_to: Paper | None = None
    #: The author count the question asked about, "the most authors" resolved to a number
    #: when the papers it is the most among were known before the search.
    author_count: AuthorCount | None = None
    #: The word or phrase the question wanted in titles; only such papers were considered.
    title_phrase: str | None = None
    #: "Most papers among the 144 searched: A (3), B (3).": who a most-papers question found;
    #: for a themes question, the themes and their counts. The answer leads with it.
    prolific: str | None = None
    #: The question asked for the common themes; ``papers`` are examples of each.
    themes: bool = False
    #: Per paper, the terms its evidence sentence should hold (a theme's words).
    evidence_terms: dict[str, frozenset[str]] = field(default_factory=dict)
    #: The institutions in ``affiliations`` are the ones a most-papers question counted, not
    #: ones the question named.
    counted_institutions: bool = False
    #: "How many orals are there?": the count, from the catalogue; the answer is this line.
    tally: str | None = None

    @property
    def matched(self) -> int:
        """How many papers matched (more than ``papers`` holds when the question asked for fewer)."""
        return self.matched_in_all if self.matched_in_all is not None else len(self.papers)

    @property
    def declined(self) -> bool:
        return not self.papers and self.tally is None


class LazyPapers(Sequence[Paper]):
    """Papers made from ranked candidates when first read. An answer reads only the papers it
    keeps; building all 100 ranked ones took a sixth of a warm search (1 ms of 6.5 at 2,610
    papers) for the evaluation and benchmarks, the only readers of the rest."""

    def __init__(self, candidates: list[Candidate], make: Any) -> None:
        self._candidates, self._make = candidates, make
        self._papers: list[Paper] | None = None

    def _built(self) -> list[Paper]:
        if self._papers is None:
            self._papers = [self._make(c) for c in self._candidates]
        return self._papers

    def __getitem__(self, index):  # type: ignore[override]
        return self._built()[index]

    def __len__(self) -> int:
        return len(self._candidates)


class HybridSearcher:
    """Searches one store; built once per engine from the store's records."""

    def __init__(
        self,
        store: PaperStore,
        embedder: Embedder,
        records: Sequence[PaperRecord] | None = None,
        policy: RelevancePolicy | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.policy = policy or RelevancePolicy()
        self.records = list(records if records is not None else store.records())
        self.by_id = {r.id: r for r in self.records}
        self.position = {r.id: i for i, r in enumerate(self.records)}
        self.keyword = KeywordIndex(self.records)
        self.authors = AuthorIndex(self.records, topic_words=self.keyword.topic_words)
        self.affiliations = AffiliationIndex(self.records, topic_words=self.keyword.topic_words)
        self.titles = TitleIndex(self.records)
        self.venues = {r.venue for r in self.records if r.venue}
        self.years = {r.year for r in self.records if r.year}
        self.statuses = {r.status for r in self.records if r.status}
        self._vectors: dict[str, np.ndarray] = {}
        self._themes_of: dict[tuple, list[Theme]] = {}
        self._filtered = exact_dense.FilteredVectors(self.store.chunk_vectors)
        self._field_values = {
            key: np.array([getattr(r, key) for r in self.records], dtype=object) for key in FILTER_FIELDS
        }
        self.reader = QuestionReader(
            self.authors, self.affiliations, self.titles, self.by_id, (self.venues, self.years, self.statuses)
        )
        self.narrower = Narrower(self.records)

    def facets(self) -> dict[str, list[str | int]]:
        """Filter values present in the store, for the page's filter controls."""
        return {"venue": sorted(self.venues), "year": sorted(self.years), "status": sorted(self.statuses)}

    def search(
        self, question: str, k: int | None = None, where: dict[str, Any] | None = None, for_answer: bool = False
    ) -> SearchResult:
        """Rank papers for a question; ``k`` caps the list, otherwise relevance decides.

        ``for_answer``: the papers are an answer's citations, so a long list stops at the
        policy's ``max_list`` and says how many matched (a reader, or a model's context, has
        no use for 210 citations); a search lists every paper relevance keeps."""
        filters = validate_filters(where)
        read = self.reader.read(question)
        intent, topic_question, reference = read.intent, read.topic, read.reference
        implied = {key: v for key, v in intent.implied_filters.items() if key not in filters}
        effective = {**implied, **filters}
        allowed = self._allowed_mask(effective)
        searched = int(allowed.sum())
        if read.tally:  # "How many orals are there?": the catalogue answers, no search runs
            line = tally_line(self._records_in(allowed), len(self.records), read.tally, effective, self.statuses)
            return SearchResult(question, [], searched, effective, implied, intent, tally=line)
        subset_key: tuple = tuple(sorted(effective.items()))
        narrowed = self.narrower.narrow(read, question, allowed, subset_key, searched)
        allowed, subset_key, notices = narrowed.allowed, narrowed.subset_key, narrowed.notices
        declared = narrowed.declared
        if read.unknown_author:  # "Which orals did John Smith write?": no paper is by someone absent
            notices.append(f"No author in the loaded listings is named “{read.unknown_author}”, "
                           "so none of their papers is here.")  # fmt: skip
            return SearchResult(question, [], searched, effective, implied, intent, notices=notices)
        if read.names_nothing:  # "Which papers are at ICML 2024?": every paper fits; the answer says so
            line = no_topic_notice(question, searched)
            return SearchResult(question, [], searched, effective, implied, intent, notices=notices, tally=line)
        if read.themes and not read.has_topic:  # "What topics are most common?": counted, not searched
            among = self._records_in(allowed)
            chosen, line = self._themes(read, among, f"the {counted(len(among))} searched", subset_key)
            chosen = chosen if k is None else chosen[: max(k, 0)]
            return SearchResult(
                question, [Paper.from_record(self.by_id[pid]) for pid in chosen], searched, effective, implied,
                intent, notices=notices, affiliations=read.institutions, prolific=line, themes=True,
                evidence_terms=read.theme_terms,
            )

        try:
            vector = self._paper_vector(reference.paper_id) if reference else self._query_vector(topic_question)
            dense = self._dense_similarities(vector, subset_key, allowed)
        except StoreUnavailableError as error:
            # The catalogue and the BM25 index are in memory: answer from keywords alone
            # rather than not at all, and say so; the next question tries the server again.
            vector, dense = None, {}
            notices.append(f"Keyword search only, so paraphrases may be missed: {error}")
        keyword_scores = self.keyword.scores(topic_question) if topic_question.strip() else np.zeros(len(self.records))
        keyword_scores = np.where(allowed, keyword_scores, 0.0)
        if reference:  # the paper is what the user has; the answer is its neighbours
            dense.pop(reference.paper_id, None)
            keyword_scores[self.position[reference.paper_id]] = 0.0
            notices.append(f"Papers like “{intent.text}”, by closeness to its title and abstract (itself left out).")
        most_of_all = read.counts_authors and not read.has_topic
        prolific_line = self._most_papers_of_all(read, narrowed) if most_of_all else narrowed.leading
        author_hits = set() if read.author_topic else self._author_papers(narrowed.written, allowed)
        #: The named authors' papers are the answer, even when none fits ("as first author")
        by_authors = (bool(read.authors) or most_of_all) and not read.author_topic
        if by_authors and not author_hits:
            if narrowed.written:  # "Which orals did X co-author?" when X has only posters
                notices.append(f"Papers {narrowed.whose} in the listings: {counted(len(narrowed.written))}, "
                               f"none among the {searched} searched.")  # fmt: skip
        candidates = self._fuse(dense, keyword_scores, author_hits, allowed, intent, declared)
        if not intent.wants_list and not author_hits:
            promote_exact_match(candidates)
        if vector is not None and candidates and not author_hits and not intent.structural:
            try:
                expanded = self._expanded_similarities(vector, candidates)
            except StoreUnavailableError:
                expanded = {c.paper_id: c.dense for c in candidates}  # the server went away just now
            for candidate in candidates:
                candidate.expanded = expanded.get(candidate.paper_id, 0.0)

        kept, decision_debug = decide(candidates, intent, self.policy, has_author_match=by_authors)
        kept, candidates, count, prolific_line = self._refine(
            kept, candidates, read, narrowed, effective, prolific_line, structural=intent.structural or bool(author_hits)
        )
        matched_in_all = None
        shown = intent.requested or (self.policy.max_list if for_answer else len(kept))
        if k is None and len(kept) > shown:
            if intent.requested:
                notices.append(f"The question asked for {shown}: the best {shown} of the {len(kept)} that match are shown.")
            else:
                notices.append(f"{len(kept)} papers match; the best {shown} are shown. Ask a narrower question, or "
                               f"list them all with `paperchat search QUESTION`.")  # fmt: skip
            matched_in_all, kept = len(kept), kept[:shown]
        nearest = []
        if k is not None:
            kept = (kept if kept else candidates)[:k] if k > 0 else []
        elif not kept and decision_debug.get("reason") == NOT_RELEVANT_ENOUGH:
            nearest = [self._paper(c) for c in candidates[:NEAREST_SHOWN]]
        ranked = LazyPapers(candidates[: max(LEG_DEPTH, k or 0)], self._paper)
        papers = [self._paper(c) for c in kept]
        return SearchResult(
            question=question,
            affiliations=read.institutions,
            authors=read.authors,
            author_topic=read.author_topic,
            matched_in_all=matched_in_all,
            similar_to=Paper.from_record(self.by_id[reference.paper_id], score=1.0) if reference else None,
            author_count=count,
            title_phrase=read.title_phrase,
            prolific=prolific_line if kept else None,
            counted_institutions=read.counts_institutions,
            themes=read.themes,
            evidence_terms=read.theme_terms,
            papers=papers,
            searched=searched,
            filters=effective,
            implied_filters=implied,
            intent=intent,
            ranked=ranked,
            debug={"decision": decision_debug, "authors": sorted(author_hits)},
            notices=notices,
            nearest=nearest,
            terms=self.keyword.question_terms(intent.text),
        )

    def _themes(
        self, read: ReadQuestion, among: Sequence[PaperRecord], scope: str, subset_key: tuple | None = None,
        asked: frozenset[str] = frozenset(),
    ) -> tuple[list[str], str]:  # fmt: skip
        """The papers to cite for a themes question (examples of each theme) and the line
        naming the themes; each example's theme terms go to ``read.theme_terms``. The themes
        of a filtered subset (``subset_key``) are kept: counting them reads every title and
        abstract of it (a quarter of a second for 2,610 papers), and the answer is the same
        until the store changes, which builds a new searcher."""
        themes = self._themes_of.get(subset_key) if subset_key is not None else None
        if themes is None:
            themes = common_themes(among, self.keyword.glossary, asked=asked)
            if subset_key is not None:
                if len(self._themes_of) >= THEMES_CACHED:
                    self._themes_of.clear()
                self._themes_of[subset_key] = themes
        picked = examples(themes)
        read.theme_terms = {pid: self.keyword.question_terms(theme.phrase) for pid, theme in picked}
        return [pid for pid, _ in picked], themes_line(themes, scope)

    def _most_papers_of_all(self, read: ReadQuestion, narrowed: Narrowed) -> str:
        """'Which authors have the most orals?' with no topic: count over every paper searched,
        and make the question name the authors it picked (``read.authors``)."""
        picked = prolific_authors(self._records_in(narrowed.allowed), read.prolific)
        read.authors = picked.matches
        narrowed.written = picked.paper_ids
        return summary(picked, read.prolific, f"the {int(narrowed.allowed.sum()):,} searched")

    def _refine(
        self,
        kept: list[Candidate],
        candidates: list[Candidate],
        read: ReadQuestion,
        narrowed: Narrowed,
        effective: dict[str, str | int],
        prolific_line: str | None,
        structural: bool,
    ) -> tuple[list[Candidate], list[Candidate], AuthorCount | None, str | None]:
        """What the relevance decision kept, adjusted for what the question asked beyond a
        topic: position papers that declare themselves, a left-out topic, the authors with
        the most papers, the most authors; with the candidates left and the count resolved."""
        count, notices = narrowed.count, narrowed.notices
        if narrowed.declared and not structural:
            # the papers that say they are position papers, then those the search finds
            kept = [c for c in candidates if c.structural_match] + [c for c in kept if not c.structural_match]
        if read.excluded:  # "... but not about agents": what answers "about agents" goes
            left_out = self._about(read.excluded, effective)
            before = len(kept)
            kept = [c for c in kept if c.paper_id not in left_out]
            candidates = [c for c in candidates if c.paper_id not in left_out]
            notices.append(exclusion_note(read.excluded, before - len(kept)))
        if read.prolific and read.has_topic:  # the most among the papers on the topic
            picked = prolific((self.by_id[c.paper_id] for c in kept), read.prolific)
            if read.counts_institutions:
                read.institutions = picked.institutions
            else:
                read.authors = picked.matches
            prolific_line = summary(picked, read.prolific, f"the {len(kept):,} that match")
            kept = [c for c in kept if c.paper_id in picked.paper_ids]
        if read.themes and read.has_topic and kept:  # the themes of the papers on the topic
            chosen, prolific_line = self._themes(read, [self.by_id[c.paper_id] for c in kept], f"the {counted(len(kept))} that match",
                                                 asked=frozenset(content_terms(read.intent.text)))  # fmt: skip
            order = {pid: i for i, pid in enumerate(chosen)}
            kept = sorted((c for c in kept if c.paper_id in order), key=lambda c: order[c.paper_id])
        if read.prolific:  # papers of the most prolific first
            chosen = read.institutions if read.counts_institutions else read.authors
            rank = {pid: i for i, m in reversed(list(enumerate(chosen))) for pid in m.paper_ids}
            kept.sort(key=lambda c: rank.get(c.paper_id, len(rank)))
            if not kept and prolific_line:
                notices.append(prolific_line)
        if count is not None and count.extreme and read.has_topic and kept:
            # "Which diffusion oral has the most authors?": the most among the topic's papers
            count = count.resolved([len(self.by_id[c.paper_id].authors) for c in kept])
            kept = [c for c in kept if count.admits(len(self.by_id[c.paper_id].authors))]
        return kept, candidates, count, prolific_line

    def _about(self, phrase: str, filters: dict[str, str | int]) -> set[str]:
        """The papers that answer "Which papers are about <phrase>?", all of them."""
        result = self.search(about(phrase), where=filters)
        if result.matched_in_all:  # more than an answer shows
            result = self.search(about(phrase), k=result.matched_in_all, where=filters)
        return {p.id for p in result.papers}

    def _allowed_mask(self, filters: dict[str, str | int]) -> np.ndarray:
        mask = np.ones(len(self.records), dtype=bool)
        for key, value in filters.items():
            mask &= self._field_values[key] == value
        return mask

    def _records_in(self, mask: np.ndarray) -> list[PaperRecord]:
        """The records a mask over ``self.records`` keeps, in store order."""
        return [self.records[i] for i in np.flatnonzero(mask)]

    def _paper_vector(self, paper_id: str) -> np.ndarray | None:
        """A paper as a query: the mean of its chunk vectors, normalised."""
        chunks = self._chunk_vectors([paper_id]).get(paper_id)
        if chunks is None or not len(chunks):
            return None
        mean = chunks.mean(axis=0)
        return mean / np.linalg.norm(mean)

    def _query_vector(self, question: str) -> np.ndarray | None:
        if not question.strip() or not self.records:
            return None
        return self.embedder.embed([topic_text(question)])[0]

    def _expanded_similarities(self, vector: np.ndarray, candidates: list[Candidate]) -> dict[str, float]:
        """Similarities of the best-ranked candidates to the query moved towards its best
        papers (see ``PRF_SEEDS``); only the candidates the relevance decision compares."""
        pool = [c.paper_id for c in candidates[:PRF_POOL]]
        chunks = self._chunk_vectors(pool)
        seeds = [chunks[pid].mean(axis=0) for pid in pool[:PRF_SEEDS] if pid in chunks]
        if not seeds:
            return {}
        moved = vector + PRF_WEIGHT * np.mean(seeds, axis=0)
        moved /= np.linalg.norm(moved)
        held = [pid for pid in pool if pid in chunks and len(chunks[pid])]
        if not held:
            return {}
        # one product for every chunk of the pool, then each paper's best chunk
        stacked = np.concatenate([chunks[pid] for pid in held])
        starts = np.cumsum([0] + [len(chunks[pid]) for pid in held[:-1]])
        best = np.maximum.reduceat(stacked @ moved, starts)
        return dict(zip(held, best.tolist()))

    def _chunk_vectors(self, paper_ids: list[str]) -> dict[str, np.ndarray]:
        """Chunk vectors of these papers, fetched from the store once and then kept: the
        same few hundred papers come back for question after question. Papers of a filtered
        subset already in memory (:mod:`app.exact_dense`) are read from there."""
        found = self._filtered.cached(paper_ids)
        missing = [pid for pid in paper_ids if pid not in found and pid not in self._vectors]
        if missing:
            if len(self._vectors) > VECTOR_CACHE_PAPERS:
                self._vectors.clear()
            self._vectors.update(self.store.chunk_vectors(missing))
        found.update((pid, self._vectors[pid]) for pid in paper_ids if pid not in found and pid in self._vectors)
        return found

    def _dense_similarities(
        self, vector: np.ndarray | None, subset_key: tuple, allowed: np.ndarray
    ) -> dict[str, float]:
        """Best chunk similarity per paper among the nearest chunks of the papers ``allowed``
        keeps (``subset_key`` names them: metadata filters, and a named institution's or
        author's papers, which no Chroma filter can express, so Chroma's hits are checked
        against ``allowed``)."""
        if vector is None:
            return {}
        if subset_key and int(allowed.sum()) <= exact_dense.MAX_PAPERS:
            kept = lambda: [self.records[i].id for i in np.flatnonzero(allowed)]  # noqa: E731
            return self._filtered.similarities(subset_key, kept, vector, LEG_DEPTH * 2)
        filters = {key: value for key, value in subset_key if key in FILTER_FIELDS}
        best: dict[str, float] = {}
        for hit in self.store.query(vector, n_results=LEG_DEPTH * 2, where=chroma_where(filters)):
            if hit.paper_id not in self.by_id or not allowed[self.position[hit.paper_id]]:
                continue
            if hit.similarity > best.get(hit.paper_id, -1.0):
                best[hit.paper_id] = hit.similarity
        return best

    def _author_papers(self, written: frozenset[str], allowed: np.ndarray) -> set[str]:
        return {pid for pid in written if allowed[self.position[pid]]}

    def _fuse(
        self,
        dense: dict[str, float],
        keyword_scores: np.ndarray,
        author_hits: set[str],
        allowed: np.ndarray,
        intent: QuestionIntent,
        declared: set[str] = frozenset(),
    ) -> list[Candidate]:
        dense_rank = {pid: r for r, pid in enumerate(sorted(dense, key=dense.get, reverse=True))}
        order = np.argsort(-keyword_scores, kind="stable")[:LEG_DEPTH]
        keyword_rank = {self.records[i].id: r for r, i in enumerate(order) if keyword_scores[i] > 0}
        pool = set(dense_rank) | set(keyword_rank) | author_hits | declared
        if intent.structural:  # ``allowed`` holds exactly the papers that fit
            pool = {self.records[i].id for i in np.flatnonzero(allowed)}
        top_keyword = float(keyword_scores.max()) if keyword_scores.size else 0.0
        question_terms = set(content_terms(intent.text))
        rows = [self.position[pid] for pid in pool]
        coverage = dict(zip(pool, self.keyword.coverages(question_terms, rows, searched=allowed)))
        best_keyword = self.records[int(order[0])].id if keyword_rank else None
        keyword_weight = 1.0 + KEYWORD_CONFIDENCE_BOOST * max(0.0, coverage.get(best_keyword, 0.0) - 0.5) / 0.5
        candidates = []
        for pid in pool:
            fused = 0.0
            if pid in dense_rank:
                fused += DENSE_WEIGHT / (RRF_K + dense_rank[pid] + 1)
            if pid in keyword_rank:
                fused += keyword_weight / (RRF_K + keyword_rank[pid] + 1)
            keyword_score = float(keyword_scores[self.position[pid]])
            candidates.append(
                Candidate(
                    paper_id=pid,
                    fused=fused,
                    dense=dense.get(pid, 0.0),
                    expanded=dense.get(pid, 0.0),
                    keyword=keyword_score,
                    keyword_share=keyword_score / top_keyword if top_keyword > 0 else 0.0,
                    coverage=coverage[pid],
                    author_match=pid in author_hits,
                    structural_match=intent.structural or pid in declared,
                )
            )
        candidates.sort(key=lambda c: (c.author_match or (intent.structural and c.structural_match), c.fused), reverse=True)
        count = intent.author_count
        if count is not None and (intent.structural or author_hits):  # by count, then fused
            sign = -1 if count.descending else 1
            candidates.sort(key=lambda c: (not (c.author_match or c.structural_match),
                                           sign * len(self.by_id[c.paper_id].authors)))  # fmt: skip
        return candidates

    def _paper(self, candidate: Candidate) -> Paper:
        return Paper.from_record(self.by_id[candidate.paper_id], score=candidate.fused)


def promote_exact_match(candidates: list[Candidate]) -> None:
    """Move the paper that holds a single-paper question's words to the front (see
    ``EXACT_MATCH_COVERAGE``); the rest keep their fused order."""
    if not candidates:
        return
    holder = max(candidates, key=lambda c: (c.coverage, c.keyword_share))
    leader = candidates[0]
    if (
        holder is not leader
        and holder.keyword_share >= 1.0
        and holder.coverage >= EXACT_MATCH_COVERAGE
        and leader.coverage < EXACT_MATCH_MARGIN * holder.coverage
    ):
        candidates.remove(holder)
        candidates.insert(0, holder)
