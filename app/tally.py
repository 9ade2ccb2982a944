"""'How many orals are there?': answered by counting the catalogue, not by a search.

A question that asks how many papers there are and names nothing to look for has one right
answer, the number of papers the filters leave, and no search can find it: searched as a
topic, "orals are there" matches nothing, and the answer would say that no paper answers.
So the question is read here, and its answer is the count with the breakdown a reader
would want next (by status and venue, how many have a title or an abstract).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ingest.records import PaperRecord

#: The paper nouns a tally question counts, and the status each names ("orals": Oral).
_NOUNS: dict[str, str | None] = {
    "papers": None, "works": None, "articles": None, "publications": None, "submissions": None,
    "records": None, "entries": None, "orals": "Oral", "talks": "Oral", "spotlights": "Spotlight",
    "posters": "Poster",
}  # fmt: skip
_TALLY = re.compile(
    r"^\s*(?:so\s+|and\s+|ok(?:ay)?\s+)?(?:how\s+many|what\s+is\s+the\s+(?:total\s+)?number\s+of|count\s+the)\s+"
    r"((?:[a-z0-9.'-]+\s+){0,3}?)(" + "|".join(_NOUNS) + r")\b(.*)$",
    re.IGNORECASE,
)
#: "Which orals have no title?", "What are the untitled papers?": asked of papers lacking a
#: field, a list question is a count too (119 of the 144 bundled orals are untitled; a list of
#: them says less than the count and the breakdown).
_WHICH = re.compile(
    r"^\s*(?:which|what|list|show(?:\s+me)?|find|give\s+me)\s+"
    r"((?:[a-z0-9.'-]+\s+){0,3}?)(" + "|".join(_NOUNS) + r")\b(.*)$",
    re.IGNORECASE,
)
#: Words a tally question may hold besides its noun, venue, year and status: none of them
#: names something to search for.
_FILLER = frozenset(
    """a an the there are is were was be been in on at of for to from this these that those all any
    total altogether overall in-total listing listings loaded list catalogue catalog store data dataset
    corpus collection file files here does do did have has had hold holds held contain contains
    contained include includes included accepted presented published appear appeared listed given
    conference main track we i you it they them us count number exactly roughly about approximately
    so far currently now today right now ok okay please tell me in all altogether""".split()
)
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
#: "How many papers have no abstract?", "... are missing a title?", "... without titles?".
_MISSING = re.compile(
    r"\b(?:no|without|lack(?:s|ing)?|missing|are\s+missing)\s+(?:an?\s+|the(?:ir)?\s+|its\s+)?(title|abstract)s?\b"
    r"|\b(untitled)\b",
    re.IGNORECASE,
)
_MISSING_WORDS = frozenset("no without lack lacks lacking missing their its title titles abstract abstracts untitled".split())


@dataclass(frozen=True)
class Tally:
    """A bare count: the noun counted ("orals") and, for "How many papers have no abstract?",
    the field ("title" or "abstract") whose papers without it are counted."""

    noun: str
    missing: str | None = None


def read_tally(question: str, venues: Iterable[str], years: Iterable[int]) -> Tally | None:
    """What a "How many orals are there?" question counts, or None when the question is not a
    bare count: anything left besides filler, the venue, year and status words (and "no
    abstract", "without a title") is a topic, and "How many orals study DP-SGD?" is a search
    that counts its matches."""
    match = _TALLY.match(question)
    listing = match is None and (match := _WHICH.match(question)) is not None
    if not match:
        return None
    named = {v.lower() for v in venues} | {str(y) for y in years}
    rest = f"{match.group(1)} {match.group(3)}".lower()
    missing = _MISSING.search(rest)
    if listing and not missing:  # "Which orals are there?" names nothing to count by
        return None
    allowed = _FILLER | _MISSING_WORDS if missing else _FILLER
    for word in _WORD.findall(rest):
        if word in allowed or word in named or word in _NOUNS or word.rstrip("s") + "s" in _NOUNS:
            continue
        if re.fullmatch(r"(?:[a-z]{3,8}[-']?)?(?:19|20)\d\d", word):  # "icml2024", "2024"
            continue
        return None
    field = None if not missing else "title" if missing.group(2) else missing.group(1).lower()
    return Tally(match.group(2).lower(), field)


def asked_status(noun: str) -> str | None:
    """The status a counted noun names: "orals" counts Oral papers, "papers" any."""
    return _NOUNS.get(noun.lower())


def tally_line(
    searched: list[PaperRecord],
    total: int,
    tally: Tally,
    filters: Mapping[str, str | int],
    statuses: set[str],
) -> str:
    """The answer to a bare count: how many papers the filters leave, and what they are.

    ``statuses`` are the store's: a question about posters in a store of orals is answered
    "none", not with the count of every paper, which the status filter (applied only where
    the store has a choice) would otherwise give."""
    noun = tally.noun
    status = asked_status(noun)
    if status and statuses and status not in statuses:
        held = ", ".join(sorted(statuses))
        return f"The loaded listings hold no {noun}: their {_count(total)} papers are {held}."
    if status and not statuses:
        return (f"The loaded listings do not say which papers are {noun}: they hold {_count(total)} papers, "
                f"none with a status.")  # fmt: skip
    scope = _scope(filters)
    shown_noun = noun if status else "papers"
    if tally.missing:  # "How many papers have no abstract?"
        lacking = sum(1 for r in searched if not getattr(r, tally.missing))
        return (f"{_count(lacking)} of the {_count(len(searched))} {shown_noun}{scope} in the loaded listings "
                f"have no {tally.missing}.")  # fmt: skip
    line = f"There are {_count(len(searched))} {shown_noun}{scope} in the loaded listings"
    line += f", of {_count(total)} papers in all." if len(searched) < total else "."
    line += "".join(f" {part}" for part in _breakdown(searched))
    return line


def _scope(filters: Mapping[str, str | int]) -> str:
    """' (ICML 2024)' for the filters a count was taken under, status left to the noun."""
    shown = [str(filters[key]) for key in ("venue", "year") if key in filters]
    return f" ({' '.join(shown)})" if shown else ""


def _breakdown(records: list[PaperRecord]) -> list[str]:
    """Sentences a reader wants after a count: what the papers are (by status and venue
    where there is more than one), and how many the listings give no title or abstract for."""
    statuses = Counter(r.status or "no status" for r in records)
    venues = Counter(" ".join(str(v) for v in (r.venue, r.year) if v) or "no venue" for r in records)
    parts = []
    if len(statuses) == len(venues) == 1 and records:
        parts.append(f"All are {next(iter(venues))} {next(iter(statuses))}.")
    for label, values in (("status", statuses), ("venue", venues)):
        if len(values) > 1:
            parts.append(f"By {label}: " + ", ".join(f"{k} {_count(n)}" for k, n in values.most_common()) + ".")
    untitled = sum(1 for r in records if not r.title)
    bare = sum(1 for r in records if not r.abstract)
    if untitled:
        parts.append(f"{_count(untitled)} of them have no title in the listings.")
    if bare:
        parts.append(f"{_count(bare)} of them have no abstract.")
    return parts


def _count(n: int) -> str:
    return f"{n:,}"
