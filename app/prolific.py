"""Questions about who wrote the most: "Which authors have the most orals?".

The answer is a count over author lists, which no retrieval leg holds: searched as text,
the question listed 36 papers that mention "authors". Here the authors of the papers
searched are counted (names compared by first and last name, as :mod:`app.authors` does),
the top ones chosen, and the question is then answered as if it had named them: their
papers, each with where they sit in its author list. Beside a topic ("... about LLMs") the
count is taken over the papers that answer the topic.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from app.author_count import NUMBER, number_value
from app.authors import AuthorMatch, name_parts
from app.text import without_spans
from ingest.records import PaperRecord

_PAPERS = r"(orals?|papers?|talks?|posters?|spotlights?|works?|publications?)\b"
_WHO = r"\b(?:which|what|who|list|name|show)\b"
_PEOPLE = r"(?:(?:authors?|researchers?|people|persons?|scientists?)\b[^?]{0,40}?)?"
#: (kind, pattern); the last group of each is the papers noun, kept in the text searched so
#: "orals" still implies the Oral filter.
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in [
        ("least", rf"{_WHO}[^?]{0,60}?{_PEOPLE}\b(?:have|has|had|wrote|write|authored|appear(?:s|ed)?|with|on|in)\s+"
                  rf"(?:(?:on|in)\s+)?(?:at least|(?=(?:a\s+)?\S+\s+or more))\s*{NUMBER}(?:\s+or more)?\s+(?:different\s+)?{_PAPERS}"),
        ("several", rf"{_WHO}[^?]{0,60}?{_PEOPLE}\b(?:have|has|had|wrote|write|authored|appear(?:s|ed)?|with|on|in)\s+"
                    rf"(?:(?:on|in)\s+)?(?:more than one|several|multiple|many|two or more)\s+(?:different\s+)?{_PAPERS}"),
        ("most", rf"{_WHO}[^?]{0,60}?{_PEOPLE}\b(?:have|has|had|wrote|write|authored|appear(?:s|ed)?|with|on|in)\s+"
                 rf"(?:(?:on|in)\s+)?the\s+most\s+{_PAPERS}"),
        ("most", rf"\b(?:the\s+)?(?:most\s+prolific\s+|top\s+(?:\d+\s+)?)(?:authors|researchers|people)\b()"),
    ]
]
#: Authors listed for "the most": the top ten, ties at the tenth included.
TOP_AUTHORS = 10


@dataclass(frozen=True)
class ProlificAsk:
    """At least ``least`` papers each, or the ``top`` authors by number of papers."""

    least: int | None = None
    top: int | None = None

    def describe(self) -> str:
        if self.least is not None:
            return f"at least {self.least} papers each"
        return "the most papers"


def read_prolific(question: str) -> tuple[ProlificAsk | None, str]:
    """The ask, and the question with it replaced by its papers noun ("Which authors have
    the most orals about LLMs?" -> "Which orals about LLMs?")."""
    for kind, pattern in _PATTERNS:
        match = pattern.search(question)
        if not match:
            continue
        groups = [g for g in match.groups() if g]
        noun = match.groups()[-1] or ""
        noun = noun if not noun or noun.lower().endswith("s") else f"{noun}s"  # a list: "orals"
        if kind == "least":
            ask = ProlificAsk(least=max(number_value(groups[0]), 2))
        elif kind == "several":
            ask = ProlificAsk(least=2)
        else:
            top = re.search(r"\btop\s+(\d+)", match.group(0), re.IGNORECASE)
            ask = ProlificAsk(top=int(top.group(1)) if top else TOP_AUTHORS)
        rest = without_spans(question, [match.span()])
        return ask, without_spans(f"Which {noun} {rest}", []) if noun else rest
    return None, question


def _key(author: str) -> tuple[str, ...]:
    parts = name_parts(author)
    return (parts[0], parts[-1]) if len(parts) >= 2 else tuple(parts)


@dataclass
class Picked:
    """The authors a most-papers question picked, and the tier of ties left unnamed."""

    authors: list[tuple[AuthorMatch, int]]
    #: (how many authors, with how many papers each) tied just below the ones named.
    unnamed: tuple[int, int] | None = None

    @property
    def matches(self) -> list[AuthorMatch]:
        return [match for match, _ in self.authors]


def prolific_authors(records: Iterable[PaperRecord], ask: ProlificAsk) -> Picked:
    """The authors the ask picks among ``records``, most papers first, each with the ids of
    those papers; none when no author has two (then "the most" means nothing). "The most"
    names the top ten and those tied with the tenth, unless that tie is a crowd (over twice
    as many): then it stops above the tie and says how many it left unnamed."""
    papers: dict[tuple[str, ...], set[str]] = defaultdict(set)
    spelled: dict[tuple[str, ...], str] = {}
    for record in records:
        for author in record.authors:
            key = _key(author)
            if key:
                papers[key].add(record.id)
                spelled.setdefault(key, author)
    ranked = sorted(papers, key=lambda k: (-len(papers[k]), spelled[k].lower()))
    unnamed = None
    if ask.least is not None:
        chosen = [k for k in ranked if len(papers[k]) >= ask.least]
    else:
        top = ask.top or TOP_AUTHORS
        floor = max(len(papers[ranked[min(top, len(ranked)) - 1]]) if ranked else 0, 2)
        chosen = [k for k in ranked if len(papers[k]) >= floor]
        above = [k for k in chosen if len(papers[k]) > floor]
        if len(chosen) > 2 * top and above:
            unnamed, chosen = (len(chosen) - len(above), floor), above
    return Picked([(AuthorMatch(spelled[k], frozenset(papers[k])), len(papers[k])) for k in chosen], unnamed)


def summary(picked: Picked, ask: ProlificAsk, among: str) -> str:
    """'Most papers among the 144 searched: Yang Zhang (5), Shayne Longpre (3) (and 27
    more authors with 2 each).'; ``among`` says which papers were counted."""
    if not picked.authors:
        return f"No author has more than one paper among {among}."
    names = ", ".join(f"{match.name} ({count})" for match, count in picked.authors)
    if picked.unnamed:
        names += f" (and {picked.unnamed[0]} more authors with {picked.unnamed[1]} each)"
    lead = "Most papers" if ask.least is None else f"Authors with {ask.describe()}"
    return f"{lead} among {among}: {names}."
