"""What the API, the CLI's JSON and the page show for a paper and an answer.

A :class:`Paper` is always built from a stored :class:`~ingest.records.PaperRecord`, never
from model output: this is what makes it impossible to cite a paper that is not in the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ingest.records import PaperRecord

#: Said instead of a title when no listing gave one. Never replaced by a guessed title.
UNTITLED_NOTE = "the listing gave no title"

#: The one answer for questions the listings cannot answer; shared by prompts and tests.
NO_ANSWER = "None of the papers in the loaded listings answer this question."
#: Heads the closest papers a declined answer shows (they are not citations).
NEAREST_HEADING = "Closest papers, though none clearly matches (not answers):"


def short_authors(authors: list[str], limit: int = 2) -> str:
    """'Li Sun, Zhenhao Huang et al.' — how a citation names a paper's authors."""
    if not authors:
        return "unknown authors"
    shown = ", ".join(authors[:limit])
    return f"{shown} et al." if len(authors) > limit else shown


def opening_words(text: str | None, count: int = 12) -> str:
    """The first words of an abstract, to tell untitled papers apart."""
    if not text:
        return ""
    tokens = text.split()
    opening = " ".join(tokens[:count])
    return opening + ("…" if len(tokens) > count else "")


@dataclass
class Paper:
    """A paper as returned by ``search`` and cited by ``ask``; fields match the JSON contract."""

    id: str
    title: str | None
    authors: list[str]
    abstract: str | None
    venue: str | None
    year: int | None
    status: str | None
    url: str | None
    score: float = 0.0
    sources: list[dict[str, Any]] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)
    evidence: str | None = None
    #: The authors' institutions as the listing names them (empty when it names none).
    affiliations: list[str] = field(default_factory=list)
    #: Their web domains; not in the JSON (they back "Which papers are from CMU?").
    domains: list[str] = field(default_factory=list, repr=False)

    @classmethod
    def from_record(cls, record: PaperRecord, score: float = 0.0) -> Paper:
        return cls(
            id=record.id,
            title=record.title,
            authors=list(record.authors),
            abstract=record.abstract,
            venue=record.venue,
            year=record.year,
            status=record.status,
            url=record.url,
            score=score,
            sources=[
                {"file": s.file, "entry": s.entry, "format": s.format, "line": s.line} for s in record.sources
            ],
            links=dict(record.links),
            affiliations=list(record.affiliations),
            domains=list(record.domains),
        )

    @property
    def venue_label(self) -> str:
        """'ICML 2024 Oral': venue, year and status as every one-line form shows them ('' when unknown)."""
        return " ".join(str(v) for v in (self.venue, self.year, self.status) if v)

    @property
    def citation(self) -> str:
        """The title, or for an untitled paper its authors and opening words, flagged as such."""
        if self.title:
            return self.title
        opening = opening_words(self.abstract)
        quoted = f' "{opening}"' if opening else ""
        return f"[untitled: {UNTITLED_NOTE}] {short_authors(self.authors)}{quoted}"

    def to_dict(self, with_evidence: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "authors": self.authors,
            "abstract": self.abstract,
            "venue": self.venue,
            "year": self.year,
            "status": self.status,
            "url": self.url,
            "score": round(self.score, 6),
            "sources": self.sources,
            "citation": self.citation,
            "links": self.links,
            "affiliations": self.affiliations,
        }
        if with_evidence:
            data["evidence"] = self.evidence
        return data


@dataclass
class Answer:
    """An answer with the papers it cites; ``backend`` names what produced the text."""

    text: str
    citations: list[Paper]
    backend: str
    searched: int = 0
    matched: int = 0
    filters: dict[str, Any] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    debug: dict[str, Any] = field(default_factory=dict)
    #: A declined answer's closest papers, below the relevance bar: shown, never cited.
    nearest: list[Paper] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.text,
            "citations": [p.to_dict(with_evidence=True) for p in self.citations],
            "backend": self.backend,
            "searched": self.searched,
            "matched": self.matched,
            "filters": self.filters,
            "notices": self.notices,
            "nearest": [p.to_dict(with_evidence=True) for p in self.nearest],
        }
