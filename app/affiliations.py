"""Find institutions in a question ("Which papers from Google DeepMind study RL?").

Listings such as paperlists give each author's institution and its web domain. Neither
embeddings nor keyword search over titles and abstracts can see them, and people name
institutions loosely: "Google" for "Google DeepMind", "Berkeley" for "University of
California, Berkeley", "MIT" and "KAIST" for names they never spell out. So a question is
matched against every institution by

- any run of its words that is part of an institution's name and not only generic words
  ("Carnegie Mellon", "Tsinghua"; "University of" alone names nothing),
- the institution's initials ("MIT", "UCLA", "KAIST"), in capitals, and a parenthesised
  short name ("Montreal Institute for Learning Algorithms (MILA)"),
- the distinctive label of a web domain its authors use ("cmu" of ``cmu.edu``, "sjtu").

Names are capitalised in questions and topics mostly are not, so a match must be written
with capitals, or follow "from", "at" or "by" ("papers from google"). Words that titles or
abstracts also use need both, and must make up a whole name: "Meta" is a company in "papers
from Meta" but not in "Which papers study Meta-learning?", nor is "Adam" (Adam Mickiewicz
University) in "Which papers analyse Adam?", nor "Data" (Saudi Data and AI Authority) in
"Which papers learn from Data?".
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Set
from dataclasses import dataclass
from functools import cached_property

from app.text import STOPWORDS, content_terms, fold, without_spans, words
from ingest.records import PaperRecord

#: Words that appear in many institutions' names and identify none on their own.
GENERIC_WORDS = frozenset(
    """university universitat universite universita universidad universidade univ institute
    institut instituto institution college school of the and for in at de la le du des di del
    der und y e technology technologies science sciences research lab labs laboratory
    laboratories inc ltd llc co corp corporation company center centre department dept faculty
    national academy group graduate polytechnic ai foundation""".split()
)
#: Words that may not start or end a name fragment ("of Oxford" is "Oxford").
_JOINERS = frozenset("of the and for in at de la le du des di del der und y e".split())
#: Words before a name that make it one ("papers from google").
_CUES_BEFORE = frozenset({"from", "at", "by"})
#: Words after a name that make it one ("Which Meta papers ...").
_CUES_AFTER = frozenset(
    "paper papers oral orals talk talks poster posters spotlight spotlights author authors "
    "researcher researchers work works people team teams lab labs write writes wrote written publish "
    "publishes published co-author co-authored coauthored co-wrote authored".split()
)
#: Words of an affiliation question that describe no topic ("What did researchers at MIT
#: publish?"): with only these left, the question asks for every paper of the institution.
FILLER_TERMS = frozenset(
    content_terms(
        "researcher researchers people person someone publish published publishes appear appeared "
        "affiliated affiliation affiliations institution institutions organisation organization "
        "team teams lab labs group groups employee employees member members present accepted "
        "together joint jointly collaboration collaborations collaborate collaborated collaborative "
        "come comes came coming author authors authored write writes wrote written based originate "
        "originates originated have has had having"
    )
)
#: Mail and hosting domains that say nothing about where an author works.
_FREE_MAIL = frozenset(
    "gmail googlemail qq 163 126 foxmail outlook hotmail live yahoo icloud me mail proton protonmail "
    "aliyun sina yeah github gitee".split()
)
#: Domain labels that only say what kind of site it is ("ac" of ``ox.ac.uk``).
_DOMAIN_KINDS = frozenset("com org net edu gov ac co mil int io ai info biz res uni www cs".split())
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
_PARENTHESISED = re.compile(r"\(([A-Z][A-Za-z0-9&.-]{1,15})\)")
#: Institutions an evidence line names before it stops ("…").
MAX_EVIDENCE_NAMES = 3
#: Longest run of question words tried as a name fragment.
MAX_FRAGMENT_WORDS = 10


@dataclass(frozen=True)
class AffiliationMatch:
    """An institution named in a question and the papers with an author there."""

    #: The words of the question that named it.
    mention: str
    #: Character span of the mention in the question, cue word included.
    start: int
    end: int
    #: The institutions it names, as the listings spell them, most papers first.
    institutions: tuple[str, ...]
    paper_ids: frozenset[str]
    #: Domain labels it matched ("sjtu"), when it was named the way a web address names it.
    domain_labels: tuple[str, ...] = ()


def domain_label(domain: str) -> str | None:
    """The label of a web domain that names its institution: ``cs.stanford.edu`` -> "stanford"."""
    labels = [label for label in domain.lower().strip(". ").split(".") if label]
    while labels and (len(labels[-1]) <= 2 or labels[-1] in _DOMAIN_KINDS):
        labels.pop()  # country codes and kinds, from the right: kaist.ac.kr -> kaist
    if not labels:
        return None
    label = labels[-1]
    if len(label) < 3 or label.isdigit() or label in _FREE_MAIL:
        return None
    return label


def initials(name: str) -> str | None:
    """The capitals people abbreviate a long name by: "Massachusetts Institute of Technology" -> "MIT"."""
    tokens = [t for t in _WORD.findall(name) if t.lower() not in _JOINERS]
    if len(tokens) < 3 or not all(t[:1].isupper() for t in tokens):
        return None
    return "".join(t[0] for t in tokens)


class AffiliationIndex:
    """Papers by institution name fragment, initials and domain label."""

    def __init__(self, records: Iterable[PaperRecord], topic_words: Set[str] | None = None) -> None:
        """Index the institutions of ``records``; ``topic_words`` are the folded words of
        their titles and abstracts when the caller has them (``KeywordIndex.topic_words``)."""
        self._given_topic_words = topic_words
        self._papers_of: dict[str, set[str]] = defaultdict(set)  # institution -> papers
        self._by_fragment: dict[tuple[str, ...], set[str]] = defaultdict(set)  # -> institutions
        self._whole_names: set[tuple[str, ...]] = set()  # each name's distinctive words
        self._by_initials: dict[str, set[str]] = defaultdict(set)  # "MIT" -> institutions
        # ("uc", "berkeley") -> "University of California, Berkeley": initials, then a place
        self._by_initials_and_place: dict[tuple[str, ...], set[str]] = defaultdict(set)
        self._by_domain: dict[str, set[str]] = defaultdict(set)  # "cmu" -> papers
        self._records = list(records)
        for record in self._records:
            for name in record.affiliations:
                self._papers_of[name].add(record.id)
            for domain in record.domains:
                if label := domain_label(domain):
                    self._by_domain[label].add(record.id)
        for name in self._papers_of:
            self._index_name(name)

    def __bool__(self) -> bool:
        return bool(self._papers_of or self._by_domain)

    @cached_property
    def _topic_words(self) -> Set[str]:
        """Words of titles and abstracts, folded: read at the first question that could name
        an institution, so a store whose listings name none never pays for it."""
        if self._given_topic_words is not None:
            return self._given_topic_words
        return frozenset(w for r in self._records for w in words(f"{r.title or ''} {r.abstract or ''}"))

    def _index_name(self, name: str) -> None:
        tokens = tuple(fold(t) for t in _WORD.findall(name))
        self._whole_names.add(tuple(t for t in tokens if t not in GENERIC_WORDS))
        for i in range(len(tokens)):
            for j in range(i + 1, min(len(tokens), i + MAX_FRAGMENT_WORDS) + 1):
                fragment = tokens[i:j]
                if fragment[0] in _JOINERS or fragment[-1] in _JOINERS:
                    continue
                if all(t in GENERIC_WORDS for t in fragment):
                    continue
                self._by_fragment[fragment].add(name)
        if short := initials(name):
            self._by_initials[short].add(name)
        for short in _PARENTHESISED.findall(name):
            self._by_initials[short.upper()].add(name)
        head, comma, place = name.partition(",")
        head_initials = "".join(t[0] for t in _WORD.findall(head) if t.lower() not in _JOINERS)
        if comma and len(head_initials) >= 2 and head_initials.isupper() and place.strip():
            self._by_initials_and_place[(head_initials.lower(), *(fold(t) for t in _WORD.findall(place)))].add(name)

    def find(self, question: str) -> list[AffiliationMatch]:
        """Institutions the question names, longest mentions first, without overlaps."""
        if not self:
            return []
        tokens = [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(question)]
        folded = [fold(t) for t, _, _ in tokens]
        used: set[int] = set()
        matches: list[AffiliationMatch] = []
        # a second pass, only after the first matched something: a name cued by the one after
        # it ("Google and Stanford") is seen once that one is matched
        spans = [(n, span) for n in (1, 2) for span in range(min(MAX_FRAGMENT_WORDS, len(tokens)), 0, -1)]
        for n, span in spans:
            if n == 2 and not matches:
                break
            for i in range(len(tokens) - span + 1):
                if any(k in used for k in range(i, i + span)):
                    continue
                window = tokens[i : i + span]
                names, papers = self._lookup(tuple(folded[i : i + span]), [t for t, _, _ in window])
                if not papers or not self._written_as_name(tokens, folded, i, i + span, used):
                    continue
                used.update(range(i, i + span))
                cue = _cue_before(folded, i)
                start = tokens[cue][1] if cue is not None else window[0][1]
                ranked = tuple(sorted(names, key=lambda n: (-len(self._papers_of[n]), n)))
                labels = (folded[i],) if span == 1 and folded[i] in self._by_domain else ()
                matches.append(AffiliationMatch(
                    mention=question[window[0][1] : window[-1][2]], start=start, end=window[-1][2],
                    institutions=ranked, paper_ids=frozenset(papers), domain_labels=labels,
                ))
        return sorted(matches, key=lambda m: m.start)

    def _lookup(self, fragment: tuple[str, ...], surface: list[str]) -> tuple[set[str], set[str]]:
        """Institutions and papers a run of question words names (nothing when it names none)."""
        names = set(self._by_fragment.get(fragment, ()))
        papers: set[str] = set()
        if len(surface) == 1:
            word = surface[0]
            if word.isupper() and len(word) >= 2:
                names |= self._by_initials.get(word, set())
            papers |= self._by_domain.get(fragment[0], set())
        elif short := self._by_initials_and_place.get(fragment):
            names |= short
        for name in names:
            papers |= self._papers_of[name]
        return names, papers

    def _written_as_name(
        self, tokens: list[tuple[str, int, int]], folded: list[str], i: int, j: int, matched: set[int]
    ) -> bool:
        """Capitalised or cued; both when a distinctive word is also a topic word.

        "and"/"or" beside another mention is a cue too: "from Google or Meta", "Which papers
        did Google and Stanford write together?".
        """
        before = folded[i - 1] if i > 0 else ""
        after = folded[j] if j < len(tokens) else ""
        cued = (
            _cue_before(folded, i) is not None
            or (before in ("and", "or") and i - 2 in matched)
            or (after in ("and", "or") and j + 1 in matched)
            or after in _CUES_AFTER
        )
        distinctive = [k for k in range(i, j) if folded[k] not in GENERIC_WORDS]
        if j - i == 1 and not tokens[i][0].isupper() and (len(folded[i]) < 3 or folded[i] in STOPWORDS):
            return False  # "A", "On", "Do": words, whatever institution they start
        capitalised = all(tokens[k][0][:1].isupper() for k in distinctive)
        if any(folded[k] in self._topic_words for k in distinctive):
            alias = j - i == 1 and (folded[i] in self._by_domain or tokens[i][0] in self._by_initials)
            whole = alias or tuple(folded[k] for k in distinctive) in self._whole_names
            return cued and capitalised and whole and not _in_title_case(tokens, folded, i, j, matched)
        return capitalised or cued


def _in_title_case(tokens: list[tuple[str, int, int]], folded: list[str], i: int, j: int, matched: set[int]) -> bool:
    """True when the words around ``tokens[i:j]`` are capitalised too, as in a pasted title
    ("Content at Scale", "by Meta Probing Agents"): there the capitals say nothing."""
    def capital(k: int) -> bool:
        return 0 < k < len(tokens) and k not in matched and tokens[k][0][:1].isupper()

    cue = _cue_before(folded, i)
    return capital(i - 1 if cue is None else cue - 1) or capital(j)


def _cue_before(folded: list[str], i: int) -> int | None:
    """Where the "from" ("at", "by") before word ``i`` is, "the", "both" or "either" allowed
    between: "from the MIT", "from both Google and Stanford"."""
    k = i - 1
    if k >= 0 and folded[k] in ("the", "both", "either"):
        k -= 1
    return k if k >= 0 and folded[k] in _CUES_BEFORE else None


def without_mentions(question: str, matches: list[AffiliationMatch]) -> str:
    """The question with its institution mentions (and their "from") cut out, for the topic."""
    return without_spans(question, [(m.start, m.end) for m in matches])


def names_only(rest: str) -> bool:
    """True when ``rest``, a question :func:`without_mentions` of its institutions, names no
    topic: the question asks for the institutions' papers."""
    return not [t for t in content_terms(rest) if t not in FILLER_TERMS]


def affiliation_evidence(affiliations: list[str], domains: list[str], matches: list[AffiliationMatch]) -> str | None:
    """Why a paper answers an institution question: the institutions it lists that were named."""
    named = {name for match in matches for name in match.institutions}
    labels = {label for match in matches for label in match.domain_labels}
    shown = [name for name in affiliations if name in named]
    if not shown:  # named by web domain only ("SJTU"): the domain is the evidence
        shown = [domain for domain in domains if domain_label(domain) in labels]
    if len(shown) > MAX_EVIDENCE_NAMES:
        shown = [*shown[:MAX_EVIDENCE_NAMES], "…"]
    return "Authors at " + "; ".join(shown) if shown else None


#: "both", "jointly", "collaborations between": the papers with authors at each institution.
_JOINT_WORK = re.compile(r"\b(?:both|together|joint|jointly|collaborat\w*)\b", re.IGNORECASE)


def asks_for_joint_work(question: str, matches: list[AffiliationMatch]) -> bool:
    """Whether the question wants papers with authors at every named institution, not any."""
    return len(matches) >= 2 and bool(_JOINT_WORK.search(question))


def papers_at(matches: list[AffiliationMatch], question: str) -> frozenset[str]:
    """The papers with an author at any named institution, or at each of them when the
    question asks for their joint work ("Which papers are from both Google and Stanford?")."""
    if not matches:
        return frozenset()
    if asks_for_joint_work(question, matches):
        return frozenset.intersection(*(m.paper_ids for m in matches))
    return frozenset().union(*(m.paper_ids for m in matches))


def narrowing_note(matches: list[AffiliationMatch], joint: bool = False) -> str:
    """'an author at Google DeepMind (or 2 other spellings)': what the search was narrowed to;
    ``joint``: 'authors at Google and at Stanford University'."""
    parts = []
    for match in matches:
        shown = match.institutions[0] if match.institutions else match.mention
        others = len(match.institutions) - 1
        parts.append(shown + (f" (or {others} other spelling{'s' if others > 1 else ''})" if others > 0 else ""))
    if joint:
        return "papers with authors at " + " and at ".join(parts)
    return "papers with an author at " + " or ".join(parts)
