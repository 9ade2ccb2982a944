"""Merge the same paper arriving from several listings into one record.

No listing has everything: the virtual-site page has abstracts but no titles, paperlists has
titles and links but no abstracts. The merge decides which records are the same paper and
combines their fields, so a reader gets one record with title, abstract and links, traceable
to every listing entry it came from.

Deciding "same paper" (see :func:`merge_records`):

1. Both titled: the normalised titles decide, alone. Equal titles are one paper; different
   titles are different papers even with identical authors, because one group often has
   several papers at one venue.
2. Provenance: if a pool record already holds this very listing entry (same file, entry and
   line) and does not contradict it, the entry goes back there. That makes re-ingesting a
   file stable even where the evidence alone would now be ambiguous (an entry without
   abstract that was paired before its namesakes arrived).
3. Otherwise the author lists must overlap strongly (:data:`AUTHOR_OVERLAP`), with names
   compared loosely (:func:`same_author`) because listings spell them differently
   ("Emmanuel J Candes" / "Emmanuel Candes", "Hal Daumé III" / "Hal Daumé", "Oga Akihiro" /
   "Akihiro Oga"); venue, year and status must not conflict; and

   - if both have an abstract, the abstracts must agree (:data:`ABSTRACT_OVERLAP`): this is
     strong evidence, and disagreeing abstracts mean different papers;
   - if not, the authors are the only evidence, so the pairing must be unambiguous from both
     sides: exactly one candidate for the incoming record, and no other *title* that could
     claim the untitled side. Ambiguous records are left separate: a missing title is better
     than a wrong one.

Candidates are found through an index of author-name tokens, so merging 2,610 records with
144 compares each with a handful of candidates, not all 144 (most of the time goes into
normalising the text once).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from functools import cached_property, lru_cache
from dataclasses import dataclass, replace
from typing import Literal

from ingest.records import PaperRecord, SourceRef, assign_id, normalize_text

#: Minimum overlap of two author lists: matched names / all distinct names (a Jaccard index).
#: 0.6 lets a long list survive a few unrecognisable spellings (4 of 5, 8 of 10 matched) but
#: makes a short list match completely (1 of 1, 2 of 2, 3 of 3), where a single co-author in
#: common says little; papers by one group with one member more or less stay apart.
AUTHOR_OVERLAP = 0.6

#: Minimum word-set Jaccard of two normalised abstracts. The same abstract from two listings
#: scores above 0.9 (only line-break hyphenation and markup differ) while different abstracts
#: in one field score about 0.2, so 0.5 sits in the middle of a wide gap.
ABSTRACT_OVERLAP = 0.5

#: Abstracts whose first this-many normalised characters agree are the same abstract even if
#: one copy was cut short (a truncated listing drags the word Jaccard down).
ABSTRACT_PREFIX = 100

#: Generational suffixes dropped from names: listings keep or drop them ("Hal Daumé III").
NAME_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})

Action = Literal["new", "merged"]


@dataclass(frozen=True)
class Placement:
    """Where one incoming record ended up: the id of its final record, and whether it started
    that record (``"new"``) or was folded into an existing or earlier incoming one
    (``"merged"``)."""

    record_id: str
    action: Action


@dataclass
class MergeOutcome:
    """All records after a merge, and a :class:`Placement` per incoming record, in input order.

    ``records`` lists the existing records first (same order, same ids), then the new ones in
    the order they were first seen.
    """

    records: list[PaperRecord]
    placements: list[Placement]

    @property
    def new_count(self) -> int:
        return sum(1 for p in self.placements if p.action == "new")

    @property
    def merged_count(self) -> int:
        return sum(1 for p in self.placements if p.action == "merged")

    def by_id(self) -> dict[str, PaperRecord]:
        """The records keyed by id, for looking up where a placement went."""
        return {record.id: record for record in self.records}


# --- author names ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthorName:
    """An author name folded for comparison: lower-case ASCII tokens, suffix removed."""

    tokens: tuple[str, ...]

    @property
    def first(self) -> str:
        """The given name, or ``""`` for a one-word name ("Dax")."""
        return self.tokens[0] if len(self.tokens) > 1 else ""

    @property
    def last(self) -> str:
        return self.tokens[-1]

    @cached_property
    def index_tokens(self) -> frozenset[str]:
        """Tokens worth indexing: initials are too common to find anything with."""
        return frozenset({t for t in self.tokens if len(t) > 1} | {self.last})


@lru_cache(maxsize=1 << 16)
def author_name(raw: str) -> AuthorName | None:
    """Fold one name; ``None`` if nothing is left (a stray separator).

    Cached: prolific authors recur across thousands of records and every re-ingest.
    """
    tokens = normalize_text(raw).split()
    while len(tokens) > 1 and tokens[-1] in NAME_SUFFIXES:
        tokens.pop()
    return AuthorName(tuple(tokens)) if tokens else None


def author_names(raw: Iterable[str]) -> tuple[AuthorName, ...]:
    return tuple(name for name in map(author_name, raw) if name is not None)


def same_author(a: AuthorName, b: AuthorName) -> bool:
    """Whether two spellings plausibly name one person.

    Same last name and compatible first initial covers middle names and initials ("Emmanuel
    J Candes", "Jiachen T. Wang"), short forms ("Phil Torr") and one-word names ("Dax" /
    "Gabriel Dax"). One name's words all occurring in the other covers swapped order ("Oga
    Akihiro"), a dropped first name ("Junyi Zou" / "Bob Junyi Zou") and a dropped last part
    ("Christian Schroeder" / "Christian Schroeder de Witt"); it needs two words, so that a
    lone given name does not match everyone who has it.
    """
    if a.tokens == b.tokens:
        return True
    if a.last == b.last and (not a.first or not b.first or a.first[0] == b.first[0]):
        return True
    sa, sb = set(a.tokens), set(b.tokens)
    if sa == sb:
        return True
    small, large = (sa, sb) if len(sa) <= len(sb) else (sb, sa)
    return len(small) >= 2 and small <= large


def author_overlap(a: tuple[AuthorName, ...], b: tuple[AuthorName, ...]) -> float:
    """Matched names / distinct names over both lists, matching each name at most once.

    Exact spellings are paired first so that a loose match ("Yu Wang" ~ "Y Wang") cannot take
    a name that has an exact partner further down the list.
    """
    if not a or not b:
        return 0.0
    unused = list(b)
    matched = 0
    leftover: list[AuthorName] = []
    for name in a:
        if name in unused:
            unused.remove(name)
            matched += 1
        else:
            leftover.append(name)
    for name in leftover:
        for k, other in enumerate(unused):
            if same_author(name, other):
                del unused[k]
                matched += 1
                break
    return matched / (len(a) + len(b) - matched)


# --- one record with its comparison keys ----------------------------------------------------


class _Keys:
    """What matching looks at, computed once per record version.

    The abstract is folded only when it is compared: most records never meet a candidate
    with an abstract, and folding thousands of abstracts would dominate the merge.
    """

    def __init__(self, record: PaperRecord) -> None:
        self._abstract = record.abstract or ""
        self.title: str | None = normalize_text(record.title or "") or None
        self.names = author_names(record.authors)

    @property
    def has_abstract(self) -> bool:
        return bool(self._abstract.strip())

    @cached_property
    def _folded_abstract(self) -> str:
        return normalize_text(self._abstract)

    @cached_property
    def abstract_words(self) -> frozenset[str]:
        return frozenset(self._folded_abstract.split())

    @property
    def abstract_prefix(self) -> str:
        return self._folded_abstract[:ABSTRACT_PREFIX]


def abstract_similarity(a: _Keys, b: _Keys) -> float:
    """Word-set Jaccard of two abstracts, or 1.0 when their openings agree."""
    if len(a.abstract_prefix) >= ABSTRACT_PREFIX and a.abstract_prefix == b.abstract_prefix:
        return 1.0
    union = a.abstract_words | b.abstract_words
    return len(a.abstract_words & b.abstract_words) / len(union) if union else 0.0


def compatible(a: PaperRecord, b: PaperRecord) -> bool:
    """Venue, year and status do not contradict each other where both are known.

    Venues are compared without digits and by word subset, so "ICML", "ICML 2024" and
    "icml.2024" agree while "ICML" and "NeurIPS" do not.
    """
    if a.year is not None and b.year is not None and a.year != b.year:
        return False
    if a.status and b.status and normalize_text(a.status) != normalize_text(b.status):
        return False
    if a.venue and b.venue:
        va = {w for w in normalize_text(a.venue).split() if not w.isdigit()}
        vb = {w for w in normalize_text(b.venue).split() if not w.isdigit()}
        if va and vb and not (va <= vb or vb <= va):
            return False
    return True


class _AuthorIndex:
    """Author-name tokens -> record slots, to find candidates without comparing everything."""

    def __init__(self) -> None:
        self._slots: dict[str, set[int]] = defaultdict(set)
        self._sizes: dict[int, int] = {}

    def add(self, slot: int, names: tuple[AuthorName, ...]) -> None:
        self._sizes[slot] = len(names)
        for name in names:
            for token in name.index_tokens:
                self._slots[token].add(slot)

    def remove(self, slot: int, names: tuple[AuthorName, ...]) -> None:
        self._sizes.pop(slot, None)
        for name in names:
            for token in name.index_tokens:
                self._slots[token].discard(slot)

    def candidates(self, names: tuple[AuthorName, ...]) -> list[int]:
        """Slots that could reach :data:`AUTHOR_OVERLAP` with ``names``.

        A slot can match at most as many names as share an indexed token with it, which bounds
        its overlap from above; slots that cannot reach the threshold are dropped unscored.
        """
        hits: dict[int, int] = defaultdict(int)
        for name in names:
            found: set[int] = set()
            for token in name.index_tokens:
                found |= self._slots.get(token, set())
            for slot in found:
                hits[slot] += 1
        out = []
        for slot, h in hits.items():
            if h / (len(names) + self._sizes[slot] - h) >= AUTHOR_OVERLAP:
                out.append(slot)
        return sorted(out)


# --- the merge ------------------------------------------------------------------------------


def merge_records(existing: list[PaperRecord], incoming: list[PaperRecord]) -> MergeOutcome:
    """Merge freshly parsed records (``id == ""``) into the stored ones.

    Existing records keep their ids; each incoming record is folded into the record it matches
    (an existing one or an earlier incoming one) or becomes a new record with a fresh id. The
    inputs are not modified. Running the same merge again on the result changes nothing.
    """
    return _Merger(existing, incoming).run()


class _Merger:
    """The working state of one merge: the pool of records and its indexes."""

    def __init__(self, existing: list[PaperRecord], incoming: list[PaperRecord]) -> None:
        self.incoming = incoming
        self.pool: list[PaperRecord] = []
        self.keys: list[_Keys] = []
        self.by_title: dict[str, int] = {}
        self.by_source: dict[SourceRef, list[int]] = defaultdict(list)
        self.all_index = _AuthorIndex()
        self.untitled_index = _AuthorIndex()
        self.taken_ids: set[str] = {r.id for r in existing if r.id}
        existing_keys = [_Keys(r) for r in existing]
        self.incoming_keys = [_Keys(r) for r in incoming]
        for record, keys in zip(existing, existing_keys):
            record = _copy(record)
            if not record.id:
                record.id = self._unique_id(assign_id(record))
            self._admit(record, keys)
        # Every title that could claim an untitled record, for the both-sides ambiguity check:
        # titles only ever come from these records, so it covers every later state of the pool.
        self.claimants: list[tuple[PaperRecord, _Keys]] = [
            (r, k)
            for r, k in zip([*existing, *incoming], [*existing_keys, *self.incoming_keys])
            if k.title
        ]
        self.claimant_index = _AuthorIndex()
        for slot, (_, keys) in enumerate(self.claimants):
            self.claimant_index.add(slot, keys.names)

    def run(self) -> MergeOutcome:
        placements = []
        for record, keys in zip(self.incoming, self.incoming_keys):
            slot = self._match(record, keys)
            if slot is None:
                new = _copy(record)
                new.id = self._unique_id(assign_id(record))
                self._admit(new, keys)
                placements.append(Placement(new.id, "new"))
            else:
                self._absorb(slot, record)
                placements.append(Placement(self.pool[slot].id, "merged"))
        return MergeOutcome(records=self.pool, placements=placements)

    # -- matching --

    def _match(self, record: PaperRecord, keys: _Keys) -> int | None:
        """The pool slot holding the same paper as ``record``, or ``None``.

        An equal title is decisive and is looked up first, so that no route can give a
        title to a second record while another already holds it.
        """
        if keys.title and keys.title in self.by_title:
            return self.by_title[keys.title]
        slot = self._seen_before(record, keys)
        if slot is not None:
            return slot
        if keys.title:
            index = self.untitled_index  # a titled pool record with another title is another paper
        else:
            index = self.all_index
        confirmed: list[tuple[float, float, int]] = []
        plausible: list[int] = []
        for slot in index.candidates(keys.names):
            other, other_keys = self.pool[slot], self.keys[slot]
            score = author_overlap(keys.names, other_keys.names)
            if score < AUTHOR_OVERLAP or not compatible(record, other):
                continue
            if keys.has_abstract and other_keys.has_abstract:
                similarity = abstract_similarity(keys, other_keys)
                if similarity >= ABSTRACT_OVERLAP:
                    confirmed.append((similarity, score, -slot))
                continue  # disagreeing abstracts: a different paper by the same people
            plausible.append(slot)
        if confirmed:
            return -max(confirmed)[2]
        if len(plausible) == 1:
            slot = plausible[0]
            if not self._contested(record, keys, self.pool[slot], self.keys[slot]):
                return slot
        return None

    def _seen_before(self, record: PaperRecord, keys: _Keys) -> int | None:
        """The slot that already holds all of ``record``'s sources, if nothing contradicts it.

        Stable evidence is re-checked (see :meth:`_fits`), so an edited file whose entry 3 is
        now another paper (on the same line, by chance) is matched afresh, not by position.
        """
        if not record.sources:
            return None
        fitting = [
            slot for slot in self.by_source.get(record.sources[0], ())
            if all(slot in self.by_source.get(s, ()) for s in record.sources)
            and self._fits(record, keys, slot)
        ]
        return fitting[0] if len(fitting) == 1 else None  # several: provenance cannot tell

    def _fits(self, record: PaperRecord, keys: _Keys, slot: int) -> bool:
        """Title, authors and venue/year/status do not contradict the pool record.

        The abstract is not re-checked: it is the one field a merge *replaces* (by a longer
        one), so the record may legitimately no longer carry the abstract this entry brought.
        """
        other, other_keys = self.pool[slot], self.keys[slot]
        if keys.title and other_keys.title and keys.title != other_keys.title:
            return False
        if keys.names and other_keys.names:
            if author_overlap(keys.names, other_keys.names) < AUTHOR_OVERLAP:
                return False
        return compatible(record, other)

    def _contested(self, a: PaperRecord, a_keys: _Keys, b: PaperRecord, b_keys: _Keys) -> bool:
        """Whether the untitled one of an author-only pair could equally be another titled paper.

        Without this, a group's oral and poster with the same authors would hand the oral's
        title to whichever of them was ingested first.
        """
        if a_keys.title and b_keys.title or not a_keys.title and not b_keys.title:
            return False
        untitled, untitled_keys, title = (a, a_keys, b_keys.title) if b_keys.title else (
            b, b_keys, a_keys.title
        )
        for slot in self.claimant_index.candidates(untitled_keys.names):
            claimant, claimant_keys = self.claimants[slot]
            if claimant_keys.title == title:
                continue
            if author_overlap(untitled_keys.names, claimant_keys.names) < AUTHOR_OVERLAP:
                continue
            if not compatible(untitled, claimant):
                continue
            if untitled_keys.has_abstract and claimant_keys.has_abstract:
                if abstract_similarity(untitled_keys, claimant_keys) < ABSTRACT_OVERLAP:
                    continue
            return True
        return False

    # -- pool upkeep --

    def _admit(self, record: PaperRecord, keys: _Keys) -> None:
        self.pool.append(record)
        self.keys.append(keys)
        self.taken_ids.add(record.id)
        self._index(len(self.pool) - 1)

    def _index(self, slot: int) -> None:
        keys = self.keys[slot]
        for source in self.pool[slot].sources:
            if slot not in self.by_source[source]:
                self.by_source[source].append(slot)
        self.all_index.add(slot, keys.names)
        if keys.title:
            self.by_title.setdefault(keys.title, slot)
        else:
            self.untitled_index.add(slot, keys.names)

    def _unindex(self, slot: int) -> None:
        keys = self.keys[slot]
        self.all_index.remove(slot, keys.names)
        if not keys.title:
            self.untitled_index.remove(slot, keys.names)

    def _absorb(self, slot: int, record: PaperRecord) -> None:
        """Fold ``record`` into the pool record at ``slot`` and refresh its keys."""
        self._unindex(slot)
        combine(self.pool[slot], record)
        self.keys[slot] = _Keys(self.pool[slot])
        self._index(slot)

    def _unique_id(self, base: str) -> str:
        """``base``, or a derivation of it if another paper already holds it.

        Two different papers can mint one id (e.g. two untitled records with the same authors
        and an empty abstract); the suffix hash is deterministic, so a re-run derives the same.
        """
        candidate, n = base, 1
        while candidate in self.taken_ids:
            n += 1
            candidate = "p_" + hashlib.sha256(f"{base}#{n}".encode()).hexdigest()[:16]
        return candidate


def combine(target: PaperRecord, other: PaperRecord) -> None:
    """Fold ``other``'s fields into ``target`` (which keeps its id) in place.

    Every rule keeps what ``target`` has and only fills or grows it, so folding the same
    record in twice changes nothing: title and authors are filled if missing, the longer
    abstract wins (a listing may truncate), venue/year/status are filled if missing, links
    are united with ``target`` winning per kind, and sources, affiliations and domains are
    united in order.
    """
    target.title = target.title or other.title
    if other.abstract and len(other.abstract) > len(target.abstract or ""):
        target.abstract = other.abstract
    if not target.authors:
        target.authors = list(other.authors)
    target.venue = target.venue or other.venue
    target.year = target.year if target.year is not None else other.year
    target.status = target.status or other.status
    for kind, url in other.links.items():
        target.links.setdefault(kind, url)
    for source in other.sources:
        if source not in target.sources:
            target.sources.append(source)
    for name in ("affiliations", "domains"):
        mine: list[str] = getattr(target, name)
        mine.extend(value for value in getattr(other, name) if value not in mine)


def _copy(record: PaperRecord) -> PaperRecord:
    """A copy whose lists and dicts can be changed without touching the caller's record."""
    return replace(
        record, authors=list(record.authors), links=dict(record.links),
        sources=list(record.sources), affiliations=list(record.affiliations),
        domains=list(record.domains),
    )
