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
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from app.affiliations import AffiliationMatch
from app.author_count import NUMBER, number_value
from app.authors import AuthorMatch, name_parts
from app.text import fold, without_spans
from ingest.records import PaperRecord

_PAPERS = r"(orals?|papers?|talks?|posters?|spotlights?|works?|publications?)\b"
_PEOPLE = r"authors?|researchers?|people|persons?|scientists?"
_PLACES = (
    r"institutions?|universit(?:y|ies)|compan(?:y|ies)|organi[sz]ations?|labs?|laborator(?:y|ies)"
    r"|affiliations?|schools?"
)
#: "Which (of the) authors ...", "Who ...": whose papers are counted comes first.
_WHOSE = (
    rf"(?:\b(?:which|what|list|name|show)\b[^?]{{0,30}}?\b(?P<who>{_PEOPLE}|{_PLACES})\b[^?]{{0,40}}?"
    rf"|\bwho\s+)"
)
_HAVE = r"\b(?:have|has|had|wrote|write|authored|appear(?:s|ed)?|with|on|in)\s+(?:(?:on|in)\s+)?"
#: (kind, pattern); the last group of each is the papers noun, kept in the text searched so
#: "orals" still implies the Oral filter.
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in [
        ("more", rf"{_WHOSE}{_HAVE}(?:more than|over)\s+{NUMBER}\s+(?:different\s+)?{_PAPERS}"),
        ("least", rf"{_WHOSE}{_HAVE}(?:at least|(?=(?:a\s+)?\S+\s+or more))\s*{NUMBER}(?:\s+or more)?\s+"
                  rf"(?:different\s+)?{_PAPERS}"),
        ("several", rf"{_WHOSE}{_HAVE}(?:more than one|several|multiple|many|two or more)\s+(?:different\s+)?{_PAPERS}"),
        ("most", rf"{_WHOSE}{_HAVE}the\s+most\s+{_PAPERS}"),
        ("most", rf"\b(?:the\s+)?(?:most\s+(?:prolific|represented|frequent)\s+|top\s+(?:\d+\s+)?)"
                 rf"(?P<who>{_PEOPLE.replace('?', '')}|{_PLACES})\b()"),
    ]
]
#: Names listed for "the most": the top ten, ties at the tenth included.
TOP_NAMES = 10
#: Other names an institution's count took in that its answer names ("Google DeepMind").
ALSO_SHOWN = 2
_INSTITUTION_WORDS = re.compile(rf"^(?:{_PLACES})$", re.IGNORECASE)
_NAME_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass(frozen=True)
class ProlificAsk:
    """At least ``least`` papers each, or the ``top`` names by number of papers; ``of`` says
    whose papers are counted: "authors" or "institutions"."""

    least: int | None = None
    top: int | None = None
    of: str = "authors"
    #: Institutions of one kind only, told apart by name: "companies" or "universities".
    kind: str | None = None

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
        who = match.group("who") or ""
        of = "institutions" if _INSTITUTION_WORDS.match(who) else "authors"
        only = "companies" if who.lower().startswith("compan") else "universities" if who.lower().startswith(
            ("universit", "school")) else None  # fmt: skip
        number = [g for g in match.groups()[1:-1] if g]
        noun = match.groups()[-1] or ""
        noun = noun if not noun or noun.lower().endswith("s") else f"{noun}s"  # a list: "orals"
        if kind in ("least", "more"):
            least = number_value(number[0]) + (kind == "more")
            ask = ProlificAsk(least=max(least, 2), of=of, kind=only)
        elif kind == "several":
            ask = ProlificAsk(least=2, of=of, kind=only)
        else:
            top = re.search(r"\btop\s+(\d+)", match.group(0), re.IGNORECASE)
            ask = ProlificAsk(top=int(top.group(1)) if top else TOP_NAMES, of=of, kind=only)
        rest = without_spans(question, [match.span()])
        return ask, without_spans(f"Which {noun} {rest}", []) if noun else rest
    return None, question


def _key(author: str) -> tuple[str, ...]:
    parts = name_parts(author)
    return (parts[0], parts[-1]) if len(parts) >= 2 else tuple(parts)


def _institution_key(name: str) -> tuple[str, ...]:
    """One institution however its case and punctuation vary: "Univ. of Tokyo" = "Univ of Tokyo"."""
    return tuple(fold(word) for word in _NAME_WORD.findall(name))


@dataclass
class Picked:
    """The names a most-papers question picked (authors or institutions), most papers first,
    and the tier of ties left unnamed."""

    #: (name as the listings spell it most, every spelling counted with it, its papers)
    names: list[tuple[str, tuple[str, ...], frozenset[str]]]
    #: (how many names, with how many papers each) tied just below the ones named.
    unnamed: tuple[int, int] | None = None
    #: "authors" or "institutions", for the answer's wording.
    noun: str = "authors"
    #: Whether any paper counted names one at all (listings without affiliations do not).
    any_named: bool = True

    @property
    def matches(self) -> list[AuthorMatch]:
        """The picked authors, as if the question had named them."""
        return [AuthorMatch(name, papers) for name, _, papers in self.names]

    @property
    def institutions(self) -> list[AffiliationMatch]:
        """The picked institutions, as if the question had named them (no span in it)."""
        return [AffiliationMatch(name, 0, 0, spellings, papers) for name, spellings, papers in self.names]

    @property
    def paper_ids(self) -> frozenset[str]:
        return frozenset().union(*(papers for _, _, papers in self.names))


def _pick(
    records: Iterable[PaperRecord], names_of: Callable[[PaperRecord], Iterable[str]],
    key: Callable[[str], tuple[str, ...]], ask: ProlificAsk,
    named: Callable[[tuple[str, ...], Counter[str]], str] = lambda _, spelling: spelling.most_common(1)[0][0],
) -> Picked:
    """The names (``names_of`` each record) the ask picks, compared by ``key``; none when no
    name has two papers (then "the most" means nothing). "The most" names the top ten and
    those tied with the tenth, unless that tie is a crowd (over twice as many): then it
    stops above the tie and says how many it left unnamed."""
    papers: dict[tuple[str, ...], set[str]] = defaultdict(set)
    spellings: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
    for record in records:
        for name in names_of(record):
            if k := key(name):
                papers[k].add(record.id)
                spellings[k][name] += 1
    spelled = {k: named(k, spelling) for k, spelling in spellings.items()}
    ranked = sorted(papers, key=lambda k: (-len(papers[k]), spelled[k].lower()))
    unnamed = None
    if ask.least is not None:
        chosen = [k for k in ranked if len(papers[k]) >= ask.least]
    else:
        top = ask.top or TOP_NAMES
        floor = max(len(papers[ranked[min(top, len(ranked)) - 1]]) if ranked else 0, 2)
        chosen = [k for k in ranked if len(papers[k]) >= floor]
        above = [k for k in chosen if len(papers[k]) > floor]
        if len(chosen) > 2 * top and above:
            unnamed, chosen = (len(chosen) - len(above), floor), above
    names = [(spelled[k], tuple(sorted(spellings[k], key=lambda n: -spellings[k][n])), frozenset(papers[k]))
             for k in chosen]  # fmt: skip
    return Picked(names, unnamed, ask.of, any_named=bool(papers))


def prolific_authors(records: Iterable[PaperRecord], ask: ProlificAsk) -> Picked:
    """The authors the ask picks among ``records``, names compared by first and last name."""
    return _pick(records, lambda r: r.authors, _key, ask)


def prolific_institutions(records: Iterable[PaperRecord], ask: ProlificAsk) -> Picked:
    """The institutions the ask picks among ``records``; a paper counts once for each
    institution it lists, however many of its authors work there. A name that begins with
    another institution's whole one-word name is that institution ("Google DeepMind",
    "Google Research" and "Google"; "Meta Facebook" and "Meta"): the listings spell a
    company's labs a dozen ways, and counted apart each one falls behind a university."""
    records = list(records)
    papers: dict[tuple[str, ...], int] = Counter(
        _institution_key(name) for record in records for name in set(record.affiliations)
    )
    parents = {k[0] for k, n in papers.items() if len(k) == 1 and n >= 2 and not _INSTITUTION_WORDS.match(k[0])}

    def key(name: str) -> tuple[str, ...]:
        k = _institution_key(name)
        return k[:1] if len(k) > 1 and k[0] in parents else k

    def names_of(record: PaperRecord) -> list[str]:
        return [name for name in record.affiliations if ask.kind is None or institution_kind(name) == ask.kind]

    def named(k: tuple[str, ...], spelling: Counter[str]) -> str:
        """As most papers spell it; an institution that took in others, by its own name."""
        return next((n for n, _ in spelling.most_common() if _institution_key(n) == k), spelling.most_common(1)[0][0])

    return _pick(records, names_of, key, ask, named)


#: Names of universities and schools ("Massachusetts Institute of Technology", "ETH Zurich").
_UNIVERSITY = re.compile(
    r"universit|college|school|institute\s+of\s+technology|polytechni|technion|\beth\b|\bepfl\b|\bkaist\b|"
    r"\bpostech\b|[ée]cole|hochschule|\bucl\b|\bmit\b|\bnyu\b|\bucla\b|\bkaust\b|\bmbzuai\b",
    re.IGNORECASE,
)
#: Names of public and non-profit research bodies, which are neither ("Inria", "RIKEN").
_PUBLIC_RESEARCH = re.compile(
    r"institut|inria|cnrs|riken|\bmila\b|max\s+planck|national|academ|laborator|\bcispa\b|foundation|"
    r"hospital|government|council|agency|\bnasa\b|\bcern\b|helmholtz|fraunhofer|\bcsiro\b|\ba\*star\b",
    re.IGNORECASE,
)


def institution_kind(name: str) -> str | None:
    """"universities", "companies" or None (a public research body), read from the name: the
    listings do not say, and "Which companies have the most papers?" must not list universities."""
    if _UNIVERSITY.search(name):
        return "universities"
    return None if _PUBLIC_RESEARCH.search(name) else "companies"


def prolific(records: Iterable[PaperRecord], ask: ProlificAsk) -> Picked:
    """Authors or institutions, as the question asked."""
    return (prolific_institutions if ask.of == "institutions" else prolific_authors)(records, ask)


def _also(name: str, spellings: tuple[str, ...]) -> str:
    """'; with “Google DeepMind”, “Google Research” and 3 more names': the other institutions an
    institution's count took in, most papers first (spellings of the same name are not news)."""
    others = list(dict.fromkeys(s for s in spellings if _institution_key(s) != _institution_key(name)))
    if not others:
        return ""
    shown = others[:ALSO_SHOWN]
    more = len(others) - len(shown)
    quoted = [f"“{other}”" for other in shown]
    listed = ", ".join(quoted) if more else " and ".join(quoted)
    return f"; with {listed}" + (f" and {more} more {'name' if more == 1 else 'names'}" if more else "")


def summary(picked: Picked, ask: ProlificAsk, among: str) -> str:
    """'Most papers among the 144 searched: Yang Zhang (5), Shayne Longpre (3) (and 27
    more authors with 2 each).'; ``among`` says which papers were counted."""
    if not picked.any_named and picked.noun == "institutions":
        return f"The listings name no institutions for {among}."
    if not picked.names:
        one = "institution" if picked.noun == "institutions" else "author"
        return f"No {one} has more than one paper among {among}."
    names = ", ".join(f"{name} ({len(papers)}{_also(name, spellings) if picked.noun == 'institutions' else ''})"
                      for name, spellings, papers in picked.names)  # fmt: skip
    if picked.unnamed:
        names += f" (and {picked.unnamed[0]} more {picked.noun} with {picked.unnamed[1]} each)"
    lead = "Most papers" if ask.least is None else f"{picked.noun.capitalize()} with {ask.describe()}"
    only = f", {ask.kind} only (by name)" if ask.kind else ""
    return f"{lead} among {among}{only}: {names}."
