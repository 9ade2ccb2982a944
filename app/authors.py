"""Find author names in a question and the papers they wrote.

Embeddings cannot match names and keyword search dilutes them among topic words, so a
question that names a person is answered from the authors field directly. Names are
compared by first and last name, folded, so "Emmanuel J Candes", "Emmanuel Candès" and
"Emmanuel Candes" are one person.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from app.text import STOPWORDS, fold, words
from ingest.records import PaperRecord

_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})
_NAME_TOKEN = re.compile(r"[^\W\d_][\w'’.-]*", re.UNICODE)


def name_parts(name: str) -> list[str]:
    """Folded name tokens without suffixes or initials' dots: 'Hal Daumé III' -> ['hal', 'daume']."""
    parts = [p.strip(".'’-") for p in re.split(r"[\s]+", fold(name))]
    return [p for p in parts if p and p not in _SUFFIXES]


@dataclass(frozen=True)
class AuthorMatch:
    """A name found in a question and the papers whose author lists contain it."""

    name: str
    paper_ids: frozenset[str]


class AuthorIndex:
    """Papers by (first, last) name and by last name alone."""

    def __init__(self, records: Iterable[PaperRecord]) -> None:
        self._by_full: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._by_last: dict[str, set[str]] = defaultdict(set)
        self._topic_words: set[str] = set()
        for record in records:
            self._topic_words.update(words(f"{record.title or ''} {record.abstract or ''}"))
            for author in record.authors:
                parts = name_parts(author)
                if len(parts) >= 2:
                    self._by_full[(parts[0], parts[-1])].add(record.id)
                if parts:
                    self._by_last[parts[-1]].add(record.id)

    def find(self, question: str) -> list[AuthorMatch]:
        """Names in the question that are authors in the store, longest spans first.

        A run of capitalised words is tried as first + last name; a lone capitalised word
        that is not at the start of the question, and that no title or abstract uses as an
        ordinary word ("Gaussian", "Transformers"), is tried as a last name ("Which orals
        did Rocktäschel co-author?").
        """
        tokens = [(m.group(0), m.start()) for m in _NAME_TOKEN.finditer(question)]
        matches: list[AuthorMatch] = []
        used: set[int] = set()
        for span in (4, 3, 2):
            for i in range(len(tokens) - span + 1):
                window = tokens[i : i + span]
                if any(j in used for j in range(i, i + span)):
                    continue
                if not all(_capitalised(t) for t, _ in window):
                    continue
                parts = name_parts(" ".join(t for t, _ in window))
                if len(parts) < 2:
                    continue
                ids = self._by_full.get((parts[0], parts[-1]))
                if ids:
                    matches.append(AuthorMatch(" ".join(t for t, _ in window), frozenset(ids)))
                    used.update(range(i, i + span))
        for i, (token, start) in enumerate(tokens):
            if i in used or start == 0 or not _capitalised(token):
                continue
            folded = name_parts(token)
            if not folded or folded[-1] in STOPWORDS or folded[-1] in self._topic_words or token.isupper():
                continue
            ids = self._by_last.get(folded[-1])
            if ids:
                matches.append(AuthorMatch(token, frozenset(ids)))
        return matches


def _capitalised(token: str) -> bool:
    return token[:1].isupper() and not token.isupper() or (len(token) <= 2 and token[:1].isupper())
