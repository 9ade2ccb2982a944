"""Acronyms and their long forms, learned from the listings themselves.

A conference is full of papers that say the same thing two ways: one abstract defines
"reinforcement learning from human feedback (RLHF)", a dozen titles just say "RLHF", and
a keyword search for either form misses the other half (measured on the 2,610 ICML 2024
papers: the two phrasings of one question shared 3 of 15 papers). The listings teach the
pairing: every "long form (ACRONYM)" they contain is a definition. Keyword search then
indexes each paper under both forms, so a question in either finds both.

Definitions are found with the Schwartz-Hearst rule (each letter of the acronym, right to
left, matched in the words before the parenthesis; the first letter must start a word).
Acronyms are matched case-sensitively in the papers ("CLIP" the model is not "clip" the
gradient operation), long forms by their stemmed words in order.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from app.text import STOPWORDS, content_terms

#: "(RLHF)", "(DP-SGD)", "(LLMs)", "(ViP)": 2-10 characters, starting with a letter.
_DEFINITION = re.compile(r"\(\s*([A-Za-z][A-Za-z0-9-]{1,9})\s*[);,]")
#: A word of running text with two capitals or more; it and each of its hyphenated parts may
#: be an acronym ("MaxMin-RLHF"). Lowercase words are skipped by the pattern itself, which
#: keeps indexing 100,000 titles fast.
_SURFACE = re.compile(r"(?<![A-Za-z0-9-])[A-Za-z0-9-]*[A-Z][A-Za-z0-9-]*[A-Z][A-Za-z0-9-]*")
#: Where a long form cannot reach back past.
_CLAUSE_BREAK = re.compile(r"[.;:!?()\[\]]")
#: An acronym must win this share of its definitions for papers that only use the acronym to
#: be indexed under its long form ("SAM" is sharpness-aware minimization in some abstracts and
#: segment anything in others: then neither).
DOMINANT_SHARE = 2 / 3
#: Definitions a common acronym's standard meaning counts as: one listing defining it
#: otherwise leaves the standard meaning dominant (2 of 3), two outvote it.
COMMON_VOTES = 2


def acronym_key(surface: str) -> str | None:
    """The acronym's identity ("LLMs" -> "LLM"), or None when it does not look like one."""
    token = surface[:-1] if len(surface) > 2 and surface.endswith("s") and surface[-2].isupper() else surface
    if sum(ch.isupper() for ch in token) < 2 or not token[0].isalpha():
        return None
    return token


def acronyms_in(text: str) -> Iterator[str]:
    """Every acronym the text uses, by its key, hyphenated parts included ("MaxMin-RLHF")."""
    for match in _SURFACE.finditer(text):
        word = match.group(0)
        for surface in (word, *word.split("-")) if "-" in word else (word,):
            key = acronym_key(surface)
            if key is not None:
                yield key


def contains_phrase(terms: Sequence[str], phrase: Sequence[str], start: int | None = None) -> bool:
    """Whether ``phrase`` (stemmed terms) occurs in ``terms`` in order, at ``start`` or anywhere."""
    n = len(phrase)
    starts = range(len(terms) - n + 1) if start is None else (start,)
    return n > 0 and any(tuple(terms[i : i + n]) == tuple(phrase) for i in starts)


def long_form_before(acronym: str, text: str) -> str | None:
    """The words before an acronym's parenthesis that spell it, by Schwartz-Hearst.

    ``text`` is what precedes the "(": the long form is its shortest tail whose word
    starts and letters take the acronym's letters in order, at most ``len + 5`` words.
    """
    letters = [ch.lower() for ch in acronym if ch.isalnum()]
    if len(letters) < 2:
        return None
    window = _CLAUSE_BREAK.split(text)[-1].rstrip()
    words = window.split()
    limit = min(len(letters) + 5, 2 * len(letters))
    by_initials = _initials_match(letters, words[-limit:])
    if by_initials is not None:
        return by_initials
    candidate = " ".join(words[-limit:])
    s, i = len(letters) - 1, len(candidate) - 1
    while s >= 0:
        ch = letters[s]
        # The first letter must begin a word; the others may sit anywhere in one.
        while i >= 0 and (candidate[i].lower() != ch or (s == 0 and i > 0 and candidate[i - 1].isalnum())):
            i -= 1
        if i < 0:
            return None
        i -= 1
        s -= 1
    start = candidate.rfind(" ", 0, i + 1) + 1
    long_form = candidate[start:].strip()
    if len(long_form.split()) < 2 or long_form.lower() == acronym.lower():
        return None
    return long_form


def _initials_match(letters: list[str], words: list[str]) -> str | None:
    """The shortest tail of ``words`` whose initials spell the acronym exactly.

    Tried first because Schwartz-Hearst alone takes the shortest spelling, and "Proximal
    Policy Optimization (PPO)" is also spelled by "Policy Optimization" (p-o-p-timization).
    Function words may be skipped ("learning from human feedback"); each part of a
    hyphenated word gives its initial ("Low-Rank Adaptation").
    """
    target = "".join(letters)
    for start in range(len(words) - 1, -1, -1):
        initials = ""
        for word in words[start:]:
            parts = [p for p in re.split(r"[-/]", word) if p]
            if word.lower() in STOPWORDS and not word[:1].isupper():
                continue
            initials += "".join(p[0].lower() for p in parts if p[0].isalnum())
        if initials == target and words[start].lower() not in STOPWORDS:
            return " ".join(words[start:])
        if len(initials) > len(target):
            return None
    return None


def definitions(text: str) -> Iterable[tuple[str, str]]:
    """Every ("RLHF", "reinforcement learning from human feedback") pair a text defines."""
    for match in _DEFINITION.finditer(text):
        key = acronym_key(match.group(1))
        if key is None:
            continue
        long_form = long_form_before(key, text[: match.start()])
        if long_form is not None:
            yield key, long_form


@dataclass
class AcronymGlossary:
    """Which acronyms the listings define, and how to index a paper under both forms."""

    #: Acronym -> its stemmed long form, for acronyms with one dominant meaning.
    meaning: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Stemmed long form -> the acronym's own term; every definition, ambiguous ones included.
    abbreviation: dict[tuple[str, ...], str] = field(default_factory=dict)
    #: Long forms by their first term, so a paper's terms are scanned once.
    _by_first_term: dict[str, list[tuple[str, ...]]] = field(default_factory=dict, repr=False)

    @classmethod
    def learn(cls, texts: Iterable[str], common: Mapping[str, str] | None = None) -> AcronymGlossary:
        """Collect the definitions in ``texts`` (titles and abstracts), plus ``common``
        acronyms (:mod:`app.common_acronyms`), each counted as :data:`COMMON_VOTES`
        definitions: the listings' own outvote it when they mean something else."""
        seen: dict[str, Counter[tuple[str, ...]]] = {}
        for text in texts:
            for key, long_form in definitions(text):
                terms = tuple(content_terms(long_form))
                if len(terms) >= 2:
                    seen.setdefault(key, Counter())[terms] += 1
        for acronym, long_form in (common or {}).items():
            terms = tuple(content_terms(long_form))
            if (key := acronym_key(acronym)) and len(terms) >= 2:
                seen.setdefault(key, Counter())[terms] += COMMON_VOTES
        glossary = cls()
        for key, forms in seen.items():
            own = content_terms(key)
            if not own:
                continue
            (best, count), total = forms.most_common(1)[0], sum(forms.values())
            if count / total >= DOMINANT_SHARE:
                glossary.meaning[key] = best
            for terms in forms:
                glossary.abbreviation.setdefault(terms, own[0])
        for terms in glossary.abbreviation:
            glossary._by_first_term.setdefault(terms[0], []).append(terms)
        return glossary

    def __bool__(self) -> bool:
        return bool(self.abbreviation)

    def extra_terms(self, text: str, terms: list[str]) -> list[str]:
        """Terms to index a paper under besides its own: the other form of each acronym.

        ``terms`` are the content terms of ``text``. A paper saying "RLHF" gains the stemmed
        words of "reinforcement learning from human feedback"; one saying the long form gains
        "rlhf". Terms the paper already has are not repeated.
        """
        have = set(terms)
        extra: list[str] = []

        def add(new: Iterable[str]) -> None:
            for term in new:
                if term not in have:
                    have.add(term)
                    extra.append(term)

        for key in acronyms_in(text):
            if key in self.meaning:
                add(self.meaning[key])
        for position, term in enumerate(terms):
            for long_terms in self._by_first_term.get(term, ()):
                if contains_phrase(terms, long_terms, start=position):
                    add([self.abbreviation[long_terms]])
        return extra
