"""Tokenising, stemming and sentence splitting shared by keyword search and evidence.

Keyword search and the evidence picker must agree on what a "word" is, or the sentence
shown as evidence would not be the one that made the paper match. Also here: cutting what a
question names out of it, and counting papers in words, which every question reader and
notice shares.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import Stemmer

_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_ACRONYM_PLURAL = re.compile(r"\b([A-Z][A-Za-z0-9]*[A-Z0-9])s\b")
#: A sentence ends at . ! or ? before a space and a capital, digit, quote or bracket; or, with no
#: space, after a word and before a capitalised word ("jailbreaks.In this work"): the orals
#: listing runs its abstracts' paragraphs together so, one abstract in ten. Two word characters
#: before the stop keep "e.g.The" whole; decimals ("3.5") have no capital after them.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])|(?<=[A-Za-z0-9)\]$]{2}[.!?])(?=[A-Z][a-z])")
_NO_BREAK_BEFORE = re.compile(r"(?:\b(?:e\.g|i\.e|et al|etc|vs|cf|Fig|Eq|resp|approx)\.|\b[A-Z]\.)$")

#: Function words plus the words every question about papers uses; they carry no topic
#: ("the best papers on LLM reasoning" is a question about LLM reasoning: a paper's own
#: "best" or "recent" says nothing about that).
STOPWORDS: frozenset[str] = frozenset(
    """a an the and or of to in on for with by from at as is are was were be been being this that
    these those it its their there here which what who whom whose when where why how do does did
    done can could should would may might will shall not no nor so such than then into onto over
    under about between among amongst within across through via using use used uses any all some each every other
    our we us you your i me my they them he she his her also more most less least very just only
    both either neither whether if but while however paper papers oral orals talk talks work
    works study studies studied propose proposes proposed present presents presented show shows
    shown introduce introduces article articles publication publications list give find tell me
    please anything something new approach approaches method methods author authors wrote written
    write co-author co-authored coauthored describe describes involve involves involving deal
    deals dealing cover covers covering address addresses addressing apply applies applying
    get gets make makes making one many much well like accepted icml neurips iclr conference
    analyze analyzes analyse analyses build builds investigate investigates explore explores
    examine examines develop develops tackle tackles concern concerns discuss discusses
    best top good great interesting important notable recent latest mention mentions mentioned
    mentioning regarding related relating focus focuses focusing focused poster posters spotlight
    spotlights""".split()
)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def stems(tokens: list[str]) -> list[str]:
    """Each token stemmed, stopwords kept, so positions line up with ``tokens``."""
    return _stemmer().stemWords(tokens)


def fold(text: str) -> str:
    """Lowercase and strip accents, so "Daumé" and "daume" are one word.

    Most listing text is ASCII, which has no accents to strip: it is only lowercased (the
    per-character pass took a third of opening a 100,000-paper store).
    """
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch)).lower()


def words(text: str) -> list[str]:
    """Folded word tokens, hyphenated words kept whole and also split into their parts.

    An acronym's plural is the acronym ("LLMs" is "llm"): the stemmer leaves "llms" alone,
    so without this a question about LLMs would miss every paper that says LLM.
    """
    folded = fold(_ACRONYM_PLURAL.sub(r"\1", text)).replace("’", "'")
    if "'" not in folded and "-" not in folded:
        return _WORD.findall(folded)  # nothing to strip or split (most titles)
    tokens: list[str] = []
    for token in _WORD.findall(folded):
        if token.endswith("'s"):
            token = token[:-2]
        tokens.append(token)
        if "-" in token:
            tokens.extend(part for part in token.split("-") if part)
    return tokens


def content_terms(text: str) -> list[str]:
    """Stemmed tokens without stopwords: what keyword search and evidence scoring compare."""
    return terms_of(words(text))


def terms_of(tokens: list[str]) -> list[str]:
    """The content terms of tokens from :func:`words`, for callers that also need the words."""
    return _stemmer().stemWords([t for t in tokens if t not in STOPWORDS and len(t) > 1])


def without_spans(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """``text`` with these character spans cut out and its spacing tidied: what a question
    names ("more than 20 authors", "from MIT") is cut from the text that is searched, and
    "Which orals with more than 20 authors?" becomes "Which orals?", not "Which orals ?"."""
    out, last = [], 0
    for start, end in sorted(spans):
        out.append(text[last:start])
        last = max(last, end)
    out.append(text[last:])
    return re.sub(r"\s+([?.!,;:])", r"\1", " ".join("".join(out).split()))


def counted(n: int, noun: str = "paper") -> str:
    """'1 paper', '89 papers', '2,610 papers'."""
    return f"{n} {noun}" if n == 1 else f"{n:,} {noun}s"


def split_sentences(text: str) -> list[str]:
    """Split an abstract into sentences without breaking on "e.g.", "et al." or initials."""
    text = text.strip()
    sentences: list[str] = []
    start = 0
    for boundary in _SENTENCE_END.finditer(text):
        sentence = text[start : boundary.start()]
        if _NO_BREAK_BEFORE.search(sentence):
            continue  # "e.g. GPT-4", "et al. (2020)": the sentence goes on
        sentences.append(sentence)
        start = boundary.end()
    sentences.append(text[start:])
    return [s.strip() for s in sentences if s.strip()]
