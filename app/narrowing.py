"""Which papers a question leaves to search, before any ranking.

Institutions and authors named beside a topic, an author count, a word wanted in titles and
"position papers" each narrow the papers searched, as a metadata filter would, and each says
so in a notice; alone (no topic left) they are the answer, which the relevance decision then
lists whole (``QuestionIntent.structural``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.affiliations import asks_for_joint_work, narrowing_note, papers_at
from app.author_count import AuthorCount
from app.authors import author_names, author_role, in_role, papers_of, wants_shared_papers
from app.position_papers import PositionPapers
from app.prolific import prolific_institutions, summary
from app.reading import ReadQuestion
from app.text import counted
from app.title_words import titles_with, untitled_note
from ingest.records import PaperRecord


@dataclass
class Narrowed:
    """The papers left to search once a question's names, counts and title words narrowed
    them, and what the answer should say about it."""

    allowed: np.ndarray
    #: Names this subset, for the exact dense search over it (:mod:`app.exact_dense`).
    subset_key: tuple
    notices: list[str]
    #: The author count asked about, resolved ("the most authors" -> 31) where it could be.
    count: AuthorCount | None
    #: Papers that declare themselves position papers, listed whatever their score.
    declared: set[str]
    #: "by Yoshua Bengio", "with Yoshua Bengio as last author": whose papers were asked for.
    whose: str
    #: The named authors' papers (in the role asked for), whether or not any is searched.
    written: frozenset[str] = frozenset()
    #: "Most papers among the 2610 searched: Google (…), …" when the question asked which
    #: institutions have the most papers and named no topic.
    leading: str | None = None


class Narrower:
    """Narrows one store's papers; built once per searcher from its records."""

    def __init__(self, records: Sequence[PaperRecord]) -> None:
        self.records = list(records)
        self.position = {r.id: i for i, r in enumerate(self.records)}
        self.position_papers = PositionPapers(self.records)
        self._author_counts = np.array([len(r.authors) for r in self.records], dtype=int)
        self._authors_of = {r.id: r.authors for r in self.records}
        self._titled = np.array([bool(r.title) for r in self.records], dtype=bool)

    def narrow(
        self, read: ReadQuestion, question: str, allowed: np.ndarray, subset_key: tuple, searched: int
    ) -> Narrowed:
        """Narrow the papers searched to what the question named: institutions, authors (beside
        a topic), an author count, a word in titles, position papers; each says so."""
        intent = read.intent
        notices: list[str] = []
        leading = None
        if read.counts_institutions and not read.has_topic:
            # "Which institutions have the most orals?": the answer is their papers, listed whole
            picked = prolific_institutions((self.records[i] for i in np.flatnonzero(allowed)), read.prolific)
            read.institutions, intent.institution_only = picked.institutions, True
            leading = summary(picked, read.prolific, f"the {searched:,} searched")
            allowed, subset_key = self._narrowed(allowed, subset_key, "institutions", picked.paper_ids)
        elif read.institutions:
            named_papers = papers_at(read.institutions, question)
            allowed, subset_key = self._narrowed(allowed, subset_key, "institutions", named_papers)
            note = narrowing_note(read.institutions, joint=asks_for_joint_work(question, read.institutions))
            notices.append(f"Searched only {note}: {counted(int(allowed.sum()))}.")
        role = author_role(question) if read.authors else None
        names = author_names(read.authors, joint=wants_shared_papers(question, read.authors)) if read.authors else ""
        whose = f"with {names} as {role} author" if role else f"by {names}"
        written = self.named_papers(read, question, role)
        if read.author_topic:
            allowed, subset_key = self._narrowed(allowed, subset_key, "authors", written)
            notices.append(f"Searched only papers {whose}: {counted(int(allowed.sum()))}.")
        elif role:
            notices.append(f"Only papers {whose}.")
        count = intent.author_count
        if count is not None and (count.extreme is None or not read.has_topic):
            scope = allowed if read.author_topic or not read.authors else allowed & self._mask(written)
            count, allowed, subset_key = self._by_author_count(count, allowed, subset_key, scope)
            if read.has_topic:  # otherwise the count is the answer, and the answer says so
                notices.append(f"Searched only papers with {count.describe()}: {counted(int(allowed.sum()))}.")
        if read.title_phrase:
            untitled = int((allowed & ~self._titled).sum())
            allowed = allowed & titles_with(self.records, read.title_phrase)
            subset_key = (*subset_key, ("title", read.title_phrase.lower()))
            if read.has_topic:
                notices.append(f"Searched only papers with “{read.title_phrase}” in the title: {counted(int(allowed.sum()))}.")
            note = untitled_note(untitled, searched)
            if note:
                notices.append(note)
        declared: set[str] = set()
        if read.position:
            positions = self.position_papers
            allowed = allowed & (positions.declared if intent.structural else positions.possible)
            subset_key = (*subset_key, ("position", intent.structural))
            note = positions.note(int(allowed.sum())) if read.has_topic else None
            if note:
                notices.append(note)
            if not read.has_topic:  # "Which orals are position papers?": every declared one
                declared = {self.records[i].id for i in np.flatnonzero(allowed & positions.declared)}
        return Narrowed(allowed, subset_key, notices, count, declared, whose, written, leading)

    def named_papers(self, read: ReadQuestion, question: str, role: str | None) -> frozenset[str]:
        """The papers the named authors answer: theirs, or the ones they share, and only
        where one of them is first (or last) author when the question says so (``role``)."""
        return in_role(papers_of(read.authors, question), self._authors_of, read.authors, role)

    def _by_author_count(
        self, count: AuthorCount, allowed: np.ndarray, subset_key: tuple, scope: np.ndarray
    ) -> tuple[AuthorCount, np.ndarray, tuple]:
        """The papers ``allowed`` keeps whose author count fits, with "the most authors"
        resolved over ``scope``, the papers the question is about (a named author's, when it
        names one and no topic)."""
        counts = self._author_counts
        count = count.resolved(counts[scope].tolist())
        fits = counts >= max(count.least, 1)
        if count.most is not None:
            fits &= counts <= count.most
        return count, allowed & fits, (*subset_key, ("author_count", (count.least, count.most)))

    def _narrowed(
        self, allowed: np.ndarray, subset_key: tuple, reason: str, paper_ids: frozenset[str]
    ) -> tuple[np.ndarray, tuple]:
        """The papers ``allowed`` keeps that are among ``paper_ids`` (a named institution's,
        or author's), and the key their subset of vectors is kept under."""
        return allowed & self._mask(paper_ids), (*subset_key, (reason, paper_ids))

    def _mask(self, paper_ids: frozenset[str]) -> np.ndarray:
        """True at the position of each of these papers."""
        mask = np.zeros(len(self.records), dtype=bool)
        mask[[self.position[pid] for pid in paper_ids if pid in self.position]] = True
        return mask
