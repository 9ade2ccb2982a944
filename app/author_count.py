"""Questions about how many authors a paper has: "more than 20 authors", "two-author papers".

No text search can answer these: an abstract never says how many people wrote it, and BM25
would find papers that mention "20". The count is read from the question, taken out of the
text that is searched, and answered from the authors field: alone it picks the papers
("Which orals have more than 20 authors?"), beside a topic it narrows the papers searched
("Which single-author orals are about privacy?"), and "the most authors" picks the largest
count among the papers that would otherwise answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from app.text import without_spans

NUMBER_WORDS: dict[str, int] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "a dozen": 12, "a hundred": 100, "hundred": 100,
}  # fmt: skip
#: A count as questions write it: "20", "twenty", "a dozen" (one group).
NUMBER = r"(\d{1,3}|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + r")"
#: "authors", "co-authors", "coauthors"; "authored" only in "two-authored" forms below.
_AUTHORS = r"(?:co-?)?authors?\b"
#: The words that only introduce the count ("papers with", "written by") go with it, so
#: what is left of the question is its topic.
_LEAD = r"(?:\b(?:with|having|that have|which have|have|has|by|written by)\s+)?"

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (kind, re.compile(_LEAD + pattern, re.IGNORECASE))
    for kind, pattern in [
        ("between", rf"\bbetween\s+{NUMBER}\s+and\s+{NUMBER}\s+{_AUTHORS}"),
        ("between", rf"\b{NUMBER}\s*(?:-|–|to)\s*{NUMBER}\s+{_AUTHORS}"),
        ("more", rf"\b(?:more than|over|above|greater than)\s+{NUMBER}\s+{_AUTHORS}"),
        ("least", rf"\b(?:at least|no fewer than|no less than|a minimum of)\s+{NUMBER}\s+{_AUTHORS}"),
        ("least", rf"\b{NUMBER}\s*(?:\+|or more)\s+{_AUTHORS}"),
        ("fewer", rf"\b(?:fewer than|less than|under|below)\s+{NUMBER}\s+{_AUTHORS}"),
        ("most", rf"\b(?:at most|no more than|up to|a maximum of)\s+{NUMBER}\s+{_AUTHORS}"),
        ("most", rf"\b{NUMBER}\s+or\s+(?:fewer|less)\s+{_AUTHORS}"),
        ("single", r"\b(?:a\s+)?(?:single|sole|solo|lone|one)[\s-]+(?:author(?:ed)?|writer)s?\b"),
        ("single", r"\bby (?:a single|one) (?:person|researcher)\b"),
        ("exactly", rf"\b(?:exactly|just|only)?\s*\b{NUMBER}[\s-]+(?:(?:co-?)?authors?|authored)\b"),
        ("largest", r"\b(?:the\s+)?(?:most|largest number of|highest number of|greatest number of)\s+(?:co-?)?authors\b"),
        ("largest", r"\b(?:the\s+)?(?:longest|largest|biggest)\s+(?:author lists?|lists? of authors|(?:author\s+)?teams?)\b"),
        ("smallest", r"\b(?:the\s+)?(?:fewest|least|smallest number of|lowest number of)\s+(?:co-?)?authors\b"),
        ("smallest", r"\b(?:the\s+)?(?:shortest|smallest)\s+(?:author lists?|lists? of authors|(?:author\s+)?teams?)\b"),
    ]
]


@dataclass(frozen=True)
class AuthorCount:
    """A range of author counts, or the largest / smallest count among some papers."""

    least: int = 1
    most: int | None = None
    #: "largest" or "smallest": the extreme count among the papers considered, resolved by
    #: :meth:`resolved` once those papers are known.
    extreme: str | None = None
    #: The count as the question put it ("at least 5 authors"), for saying what was searched.
    said: str | None = field(default=None, compare=False)

    def admits(self, count: int) -> bool:
        """True for a paper with ``count`` listed authors (a paper listing none never fits:
        its listing did not say, which is not the same as "fewer than three")."""
        return count >= max(self.least, 1) and (self.most is None or count <= self.most)

    def resolved(self, counts: Sequence[int]) -> AuthorCount:
        """The largest or smallest of ``counts`` as an exact count; a range stays as it is."""
        listed = [c for c in counts if c > 0]
        if self.extreme is None or not listed:
            return self
        value = max(listed) if self.extreme == "largest" else min(listed)
        return replace(self, least=value, most=value)

    @property
    def descending(self) -> bool:
        """List the largest author lists first ("more than 20", "the most authors")."""
        return self.extreme == "largest" or (self.most is None and self.least > 1)

    def describe(self) -> str:
        """'more than 20 authors', 'a single author', 'the most authors (43)'."""
        if self.extreme:
            word = "most" if self.extreme == "largest" else "fewest"
            count = f" ({self.least})" if self.most == self.least else ""
            return f"the {word} authors{count}"
        if self.said and self.most != self.least:
            return self.said
        if self.most == self.least:
            return "a single author" if self.least == 1 else f"exactly {self.least} authors"
        if self.most is None:
            return f"more than {self.least - 1} authors"
        if self.least <= 1:
            return f"at most {self.most} author{'s' if self.most != 1 else ''}"
        return f"{self.least} to {self.most} authors"


def number_value(text: str) -> int:
    """The value of a count :data:`NUMBER` matched: "20" -> 20, "a dozen" -> 12."""
    text = text.lower()
    return int(text) if text.isdigit() else NUMBER_WORDS[" ".join(text.split())]


def _count(kind: str, numbers: list[int]) -> AuthorCount | None:
    if kind == "between":
        low, high = sorted(numbers)
        return AuthorCount(least=low, most=high)
    if kind == "single":
        return AuthorCount(least=1, most=1)
    if kind in ("largest", "smallest"):
        return AuthorCount(extreme=kind)
    (n,) = numbers
    bounds = {
        "more": (n + 1, None),
        "least": (n, None),
        "fewer": (1, n - 1),
        "most": (1, n),
        "exactly": (n, n),
    }[kind]
    if bounds[1] is not None and bounds[1] < 1:
        return None  # "fewer than one author": no paper can fit
    return AuthorCount(least=bounds[0], most=bounds[1])


def read_author_count(question: str) -> tuple[AuthorCount | None, str]:
    """The author count the question asks about, and the question without it.

    >>> read_author_count("Which orals have more than 20 authors?")
    (AuthorCount(least=21, most=None, extreme=None, said='more than 20 authors'), 'Which orals?')
    """
    for kind, pattern in _PATTERNS:
        match = pattern.search(question)
        if not match:
            continue
        if kind == "exactly" and re.search(r"\b(?:the|these|those|both|its|their)\s*$", question[: match.start()], re.I):
            continue  # "the two authors X and Y": names people, not a count
        numbers = [number_value(g) for g in match.groups() if g]
        count = _count(kind, numbers)
        if count is None:
            return None, question  # "fewer than one author": not "one author"; read it as text
        said = re.sub(r"^(?:with|having|that have|which have|have|has|written by|by)\s+", "", match.group(0).strip(), flags=re.I)
        count = replace(count, said=" ".join(said.lower().split()))
        return count, without_spans(question, [match.span()])
    return None, question


def author_list_evidence(authors: Sequence[str], limit: int | None = 6) -> str | None:
    """Why a paper answers an author-count or who-wrote question: its count and the names
    (the citation line shows only the first three); ``limit=None`` names every author."""
    if not authors:
        return None
    if len(authors) == 1:
        return f"Sole author: {authors[0]}"
    limit = len(authors) if limit is None else limit
    names = ", ".join(authors[:limit]) + (f" and {len(authors) - limit} more" if len(authors) > limit else "")
    return f"{len(authors)} authors: {names}"
