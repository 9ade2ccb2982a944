"""'Papers like ViP': questions that name a paper of the store and ask for its neighbours.

Searched as text, "papers similar to ViP" finds the ViP paper and then whatever else the
words "similar" and "ViP" bring up. The paper itself says far more about what the user
wants: its own vector (the mean of its chunks) and its title's words are the query, and it
is left out of the answer. The reference must name one paper unambiguously (its title, the
short name before the title's colon, or the first words of its title); otherwise the
question is searched as written.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from ingest.records import PaperRecord, normalize_text

#: "similar to X", "like X", "related to X" at the end of a question.
_LIKE = re.compile(
    r"\b(?:similar\s+to|like|related\s+to|resembling|close\s+to|in\s+the\s+spirit\s+of|along\s+the\s+lines\s+of)\s+(.+?)\s*[?.!]*\s*$",
    re.IGNORECASE,
)
_REFERENCE_NOISE = re.compile(r"^(?:the\s+)?(?:paper|oral|talk|poster|work|one)\s+|\s+(?:paper|oral|talk|poster|work)$", re.IGNORECASE)
_QUOTES = "\"'“”‘’«»`"
#: A title's opening words name it when there are this many and one title starts with them.
MIN_PREFIX_WORDS = 4
#: Longest short name ("NExT-GPT", "DITTO") taken from before a title's colon, in words.
MAX_SHORT_NAME_WORDS = 3


def asks_for_similar(text: str) -> bool:
    """Whether the text asks for papers like something ("more like the second one")."""
    return bool(_LIKE.search(text))


@dataclass(frozen=True)
class SimilarRequest:
    """A question asking for papers like one paper of the store."""

    paper_id: str
    #: The reference as the question wrote it ("ViP").
    mention: str


class TitleIndex:
    """Papers by normalised title and by the short name before a title's colon."""

    def __init__(self, records: Iterable[PaperRecord]) -> None:
        self._by_title: dict[str, set[str]] = defaultdict(set)
        self._by_short_name: dict[str, set[str]] = defaultdict(set)
        for record in records:
            if not record.title:
                continue
            self._by_title[normalize_text(record.title)].add(record.id)
            head, colon, _ = record.title.partition(":")
            if colon and 1 <= len(head.split()) <= MAX_SHORT_NAME_WORDS:
                self._by_short_name[normalize_text(head)].add(record.id)
        self._titles = sorted(self._by_title)

    def find(self, question: str) -> SimilarRequest | None:
        """The paper the question asks for neighbours of, when it names exactly one."""
        match = _LIKE.search(question)
        if not match:
            return None
        mention = _REFERENCE_NOISE.sub("", match.group(1).strip().strip(_QUOTES).strip()).strip(_QUOTES).strip()
        key = normalize_text(mention)
        if not key:
            return None
        ids = self._by_title.get(key) or self._by_short_name.get(key) or self._by_prefix(key)
        if ids is None or len(ids) != 1:
            return None
        return SimilarRequest(paper_id=next(iter(ids)), mention=mention)

    def _by_prefix(self, key: str) -> set[str] | None:
        if len(key.split()) < MIN_PREFIX_WORDS:
            return None
        first = bisect.bisect_left(self._titles, key)  # titles starting with key sort from here
        starts = []
        for title in self._titles[first : first + 2]:
            if title == key or title.startswith(key + " "):
                starts.append(title)
        return self._by_title[starts[0]] if len(starts) == 1 else None
