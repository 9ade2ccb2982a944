"""Find author names in a question and the papers they wrote.

Embeddings cannot match names and keyword search dilutes them among topic words, so a
question that names a person is answered from the authors field directly. Names are
compared by first and last name, folded, so "Emmanuel J Candes", "Emmanuel Candès" and
"Emmanuel Candes" are one person.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Set
from dataclasses import dataclass

from app.text import STOPWORDS, content_terms, fold, without_spans, words
from ingest.records import PaperRecord

_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})
_NAME_TOKEN = re.compile(r"[^\W\d_][\w'’.-]*", re.UNICODE)


def name_parts(name: str) -> list[str]:
    """Folded name tokens without suffixes, initials' dots or a possessive: 'Hal Daumé III'
    -> ['hal', 'daume'], "Tim Rocktäschel's" -> ['tim', 'rocktaschel']."""
    parts = [re.sub(r"['’]s$", "", p).strip(".'’-") for p in re.split(r"[\s]+", fold(name))]
    return [p for p in parts if p and p not in _SUFFIXES]


#: Words that say a question is about authorship, not a topic: "Which papers has Yoshua
#: Bengio co-written together with Aaron Courville?" names no topic; "... about causality"
#: does. Status words are here too ("posters"): they become a filter, not a topic.
AUTHORSHIP_TERMS = frozenset(
    content_terms(
        "co coauthor coauthors author authored authoring authorship writer writing wrote written "
        "publish published publishing paper has have had together jointly both collaborate "
        "collaborated collaboration collaborator collaborators colleague colleagues contribute "
        "contributed contribution contributions involved involvement participate participated "
        "name named first last senior lead corresponding recent recently latest et al working "
        "researcher researchers people person group groups lab labs team accepted poster posters "
        "spotlight spotlights presented presenting appear appears appeared jr sr ii iii iv"
    )
)


@dataclass(frozen=True)
class AuthorMatch:
    """A name found in a question and the papers whose author lists contain it."""

    name: str
    paper_ids: frozenset[str]
    #: Where the name is in the question (character offsets), to cut it out of the topic.
    start: int = 0
    end: int = 0


class AuthorIndex:
    """Papers by (first, last) name and by last name alone."""

    def __init__(self, records: Iterable[PaperRecord], topic_words: Set[str] | None = None) -> None:
        """Index the authors of ``records``; ``topic_words`` are the folded words of their
        titles and abstracts when the caller has them (``KeywordIndex.topic_words``)."""
        self._by_full: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._by_last: dict[str, set[str]] = defaultdict(set)
        records = list(records)
        self._topic_words: Set[str] = (
            topic_words if topic_words is not None
            else {w for r in records for w in words(f"{r.title or ''} {r.abstract or ''}")}
        )
        for record in records:
            for author in record.authors:
                parts = name_parts(author)
                if len(parts) >= 2:
                    self._by_full[(parts[0], parts[-1])].add(record.id)
                if parts:
                    self._by_last[parts[-1]].add(record.id)

    def has_name(self, first: str, last: str) -> bool:
        """Whether some author has this (folded) first and last name."""
        return (first, last) in self._by_full

    def is_topic_word(self, word: str) -> bool:
        """Whether titles or abstracts use this (folded) word."""
        return word in self._topic_words

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
                    start, end = window[0][1], window[-1][1] + len(window[-1][0])
                    matches.append(AuthorMatch(question[start:end], frozenset(ids), start, end))
                    used.update(range(i, i + span))
        for i, (token, start) in enumerate(tokens):
            if i in used or start == 0 or not _capitalised(token):
                continue
            folded = name_parts(token)
            if not folded or folded[-1] in STOPWORDS or folded[-1] in self._topic_words or token.isupper():
                continue
            ids = self._by_last.get(folded[-1])
            if ids:
                matches.append(AuthorMatch(token, frozenset(ids), start, start + len(token)))
        return sorted(matches, key=lambda m: m.start)


#: A person named as the one who wrote the papers: "did Yoshua Bengio co-author", "papers by
#: Yoshua Bengio", "written by ...". Names are two to four capitalised words.
_PERSON = r"([A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*){1,3})"
_PERSON_CUES = re.compile(
    rf"(?i:\b(?:did|has|have|had))\s+{_PERSON}\s+(?i:(?:co-?)?(?:authored|author|write|wrote|written|publish|published))\b"
    rf"|(?i:\b(?:(?:written|authored|co-?authored)\s+)?by)\s+{_PERSON}"
)
#: Capitalised words of organisations, not people ("papers by Google DeepMind").
_NOT_PERSON = frozenset(
    "google deepmind meta microsoft amazon apple nvidia openai anthropic ibm research university institute "
    "lab labs laboratory ai inc college school center centre team group".split()
)


def unknown_person(question: str, index: AuthorIndex) -> str | None:
    """The person the question says wrote the papers, when no author in the listings has that
    first and last name ("Which orals did Yoshua Bengio co-author?" asked of orals he is not
    on): the question is then searched as words, and the user should know why it found none."""
    match = _PERSON_CUES.search(question)
    if not match:
        return None
    name = next(group for group in match.groups() if group)
    parts = name_parts(name)
    if len(parts) < 2 or index.has_name(parts[0], parts[-1]):
        return None
    if any(part in _NOT_PERSON or index.is_topic_word(part) for part in parts):  # "by Bayesian Methods"
        return None
    return name


def without_names_within(matches: list[AuthorMatch], question: str, person: str) -> list[AuthorMatch]:
    """The matches less those inside ``person``'s name in the question: "John" and "Smith" of
    a "John Smith" no author is are not authors the question asks about."""
    start = question.find(person)
    if start < 0:
        return matches
    end = start + len(person)
    return [m for m in matches if not (start <= m.start and m.end <= end)]


def without_names(question: str, matches: list[AuthorMatch]) -> str:
    """The question with the author names it matched cut out: what is left may be a topic."""
    return without_spans(question, [(m.start, m.end) for m in matches])


#: "together", "jointly", "co-authored with": the question wants the papers the named
#: authors wrote with each other, not every paper of each.
_JOINT_WORK = re.compile(r"\b(?:together|jointly|with each other)\b|\bco-?(?:authored|wrote|written|write|author)\s+with\b",
                         re.IGNORECASE)


def wants_shared_papers(question: str, matches: list[AuthorMatch]) -> bool:
    """Whether the question names two or more authors and wants the papers they share."""
    return len({m.name for m in matches}) >= 2 and bool(_JOINT_WORK.search(question))


def papers_of(matches: list[AuthorMatch], question: str) -> frozenset[str]:
    """The papers the named authors answer: each one's papers, or, when the question asks
    for their joint work, the papers they share."""
    if not matches:
        return frozenset()
    people = {m.name: m.paper_ids for m in matches}
    if wants_shared_papers(question, matches):
        return frozenset.intersection(*people.values())
    return frozenset().union(*people.values())


def author_names(matches: list[AuthorMatch], joint: bool = False) -> str:
    """'Yoshua Bengio', 'Yoshua Bengio or Aaron Courville' ('... and ...' for joint work):
    the names as the question wrote them."""
    names = list(dict.fromkeys(m.name for m in matches))
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + (" and " if joint else " or ") + names[-1]


def names_a_topic(rest: str) -> bool:
    """True when ``rest``, a question :func:`without_names`, still asks about something
    ("... about causality"), not only for the named authors' papers."""
    return any(not t.isdigit() and t not in AUTHORSHIP_TERMS for t in content_terms(rest.replace("-", " ")))


#: "as first author", "the last author", "senior-authored": where in the author list the
#: named person must be. By convention the first author did the work and the last led it.
_ROLE = re.compile(r"\b(first|lead|last|senior)[\s-]+(?:co-?)?author(?:s|ed)?\b", re.IGNORECASE)
_ROLE_NAMES = {"first": "first", "lead": "first", "last": "last", "senior": "last"}


def author_role(question: str) -> str | None:
    """'first' or 'last' when the question asks for the named authors in that place."""
    match = _ROLE.search(question)
    return _ROLE_NAMES[match.group(1).lower()] if match else None


class _NamedAuthors:
    """Tells whether an author-list entry is one of the names a question matched, the way
    the index matched it: first and last name, or the last name alone."""

    def __init__(self, matches: list[AuthorMatch]) -> None:
        self.full: set[tuple[str, str]] = set()
        self.last: set[str] = set()
        for match in matches:
            parts = name_parts(match.name)
            if len(parts) >= 2:
                self.full.add((parts[0], parts[-1]))
            elif parts:
                self.last.add(parts[-1])

    def __contains__(self, author: str) -> bool:
        parts = name_parts(author)
        return bool(parts) and ((parts[0], parts[-1]) in self.full or parts[-1] in self.last)


def in_role(
    paper_ids: Iterable[str], authors_of: dict[str, list[str]], matches: list[AuthorMatch], role: str | None
) -> frozenset[str]:
    """The papers where a named author is first (or last) in the author list; all of them
    when the question asks for no role."""
    if role is None:
        return frozenset(paper_ids)
    named = _NamedAuthors(matches)
    place = 0 if role == "first" else -1
    return frozenset(pid for pid in paper_ids if authors_of[pid] and authors_of[pid][place] in named)


def author_evidence(authors: list[str], matches: list[AuthorMatch]) -> str | None:
    """Why a paper answers an author question: the named authors, spelled as its listing
    spells them (the citation line shows only the first three)."""
    named = _NamedAuthors(matches)
    shown = []
    for position, author in enumerate(authors, start=1):
        if author in named:
            role = "sole author" if len(authors) == 1 else f"author {position} of {len(authors)}"
            shown.append(f"{author} ({role})")
    return "Authors include " + "; ".join(shown) if shown else None


def _capitalised(token: str) -> bool:
    return token[:1].isupper() and not token.isupper() or (len(token) <= 2 and token[:1].isupper())
