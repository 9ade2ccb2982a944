"""'What topics are most common?': the phrases most papers share, counted, with examples.

Searched as a topic, the question found the papers whose abstracts say "common". What a
reader skimming a conference wants is the opposite of a search: the subjects that recur,
each with how many papers mention it and a few to read. They are counted here from the
papers' own words: the two- and three-word phrases of titles and abstracts ("diffusion
models", "reinforcement learning"), single words only from titles (where they name the
subject, not a step of the method), and an acronym counted under its long form ("LLMs"
is "large language models"), so a theme is not split between its two spellings.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from app.acronyms import AcronymGlossary, acronyms_in
from app.text import STOPWORDS, stems

#: Themes an answer names, and example papers it cites for each.
TOP_THEMES = 10
EXAMPLES_PER_THEME = 3
#: A phrase in more than this share of the papers says nothing about any of them
#: ("machine learning" at a machine learning conference).
MAX_SHARE = 0.4
#: A theme whose papers are mostly another, already named theme's is that theme again
#: ("language models" after "large language models").
MAX_OVERLAP = 0.5
#: Longer phrases are more specific: a three-word phrase counts this much more per word.
LENGTH_BONUS = 0.25
#: An acronym as written has at least this share of capitals ("LoRA", "GNNs", "ViT").
ACRONYM_CAPITALS = 0.4
#: Stems sharing this many first letters are forms of one word ("privat", "privaci").
SAME_WORD_PREFIX = 5

_ASKS = re.compile(
    r"\b(?:what|which)\s+(?:are|were|is)\s+the\s+(?:(?:main|most\s+common|most\s+popular|most\s+frequent|commonest|"
    r"common|popular|top|hot|hottest|key|major|dominant|recurring|big|biggest|leading|prevalent)\s+)+"
    r"(?:topics|themes|subjects|areas|research\s+areas|research\s+topics|trends|directions|keywords)\b"
    r"|\b(?:what|which)\s+(?:(?:research\s+)?topics|themes|subjects|areas|trends|keywords)\s+"
    r"(?:are|were|come\s+up|appear|occur|recur|dominate|stand\s+out)\b[^?]*"
    r"\b(?:most|common|commonly|popular|frequent|frequently|often|dominant|dominate|prevalent|recurring)\b"
    r"|\b(?:what|which)\s+(?:topics|themes|subjects)\s+(?:dominate|recur)\b"
    r"|\bwhat(?:'s|\s+is|\s+was)\s+(?:trending|popular|hot)\b"
    r"|\b(?:summari[sz]e|list|name|give\s+me|show\s+me)\s+the\s+(?:(?:main|common|top|key|major)\s+)?"
    r"(?:topics|themes|subjects|trends)\b"
    r"|\b(?:most\s+common|most\s+popular|top|main|hot)\s+(?:research\s+)?(?:topics|themes|trends)\b",
    re.IGNORECASE,
)
#: Words that do not make a theme alone or at a phrase's edge: the vocabulary of every
#: abstract ("we propose a novel method") and adjectives that qualify any subject.
_GENERIC = frozenset(
    """method methods approach approaches result results paper papers work works propose proposed proposes
    show shows shown performance problem problems task tasks new novel existing state art significant
    significantly demonstrate demonstrates however also based using use used study studies well various
    different many several high low first two one three framework algorithm algorithms analysis
    experiments experimental empirical empirically extensive provide provides present presents introduce
    introduces improve improved improves improvement key main recent recently effective efficient efficiently
    achieve achieves across set setting settings way ways often number important effect effects
    theoretical theory function functions loss terms information time process general specific particular
    strong simple able better best limited wide range properties property code available https github com www
    open source benchmark benchmarks dataset datasets evaluation et al via towards toward beyond without
    adaptive robust deep scalable provable provably optimal fast faster universal improving learning
    neural understanding rethinking revisiting making enabling efficiency approach-based end case cases practice
    practical real world real-world generalizable unified simple simpler better towards can may need""".split()
)
#: Phrases every paper at a machine learning venue could name (stemmed).
_TOO_BROAD = frozenset(
    ["machin learn", "neural network", "deep learn", "artifici intellig", "ai", "ml", "deep neural network",
     "neural net", "machin learn model", "learn model"]
)
#: A phrase may end in one of these although they are generic alone ("diffusion models").
_HEADS = frozenset("model models learning network networks data training".split())
_BREAK = re.compile(r"[.;:!?()\[\],\"“”]")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]*")


@dataclass
class Theme:
    """A phrase many papers share: as most of them spell it, and their ids."""

    phrase: str
    paper_ids: list[str]
    #: The stemmed words the papers share (the long form, for an acronym).
    terms: tuple[str, ...] = ()


def read_themes(question: str) -> tuple[bool, str]:
    """Whether the question asks for the common themes ("What topics are most common?",
    "What are the main themes of the orals?"), and the question without that ask: what is
    left may name papers to count them among ("... among papers on privacy")."""
    if not _ASKS.search(question):
        return False, question
    rest = re.sub(r"\s+", " ", _ASKS.sub(" ", question, count=1)).strip()
    return True, rest or question


def common_themes(
    records: Sequence, glossary: AcronymGlossary | None = None, top: int = TOP_THEMES,
    asked: frozenset[str] = frozenset(),
) -> list[Theme]:  # fmt: skip
    """The ``top`` phrases most papers share, each once: a phrase whose papers are mostly a
    better-ranked phrase's is left out, so "language models" does not follow "large
    language models". ``asked``: the stemmed words of the topic these papers were found
    for; a phrase made only of them, or of their other forms, is that topic again ("private"
    among the papers on privacy)."""
    papers: dict[tuple[str, ...], set[int]] = defaultdict(set)
    spellings: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
    for row, record in enumerate(records):
        for key, spelled in _phrases(record, glossary):
            if asked and all(_same_word(word, asked) for word in key):
                continue
            papers[key].add(row)
            spellings[key][spelled] += 1
    limit = max(2, MAX_SHARE * len(records))
    ranked = sorted(
        (key for key, rows in papers.items() if 2 <= len(rows) <= limit),
        key=lambda key: (-len(papers[key]) * (1 + LENGTH_BONUS * (len(key) - 1)), key),
    )
    chosen: list[tuple[str, ...]] = []
    for key in ranked:
        rows = papers[key]
        if any(len(rows & papers[other]) > MAX_OVERLAP * len(rows) for other in chosen):
            continue
        chosen.append(key)
        if len(chosen) == top:
            break
    chosen.sort(key=lambda key: -len(papers[key]))  # named by how many papers, most first
    return [
        Theme(_spelled(spellings[key]), [records[row].id for row in _titled_first(records, papers[key])], key)
        for key in chosen
    ]


def _titled_first(records: Sequence, rows: set[int]) -> list[int]:
    """A theme's papers, those with a title first: they make the clearer examples."""
    return sorted(rows, key=lambda row: (not records[row].title, row))


def _phrases(record, glossary: AcronymGlossary | None) -> set[tuple[tuple[str, ...], str]]:
    """A paper's candidate themes: (stemmed words, as written), each once."""
    found: dict[tuple[str, ...], str] = {}
    title = record.title or ""
    clauses = [(part, (1, 2, 3)) for part in _BREAK.split(title)]  # single words only from titles
    clauses += [(part, (2, 3)) for part in _BREAK.split(record.abstract or "")]
    for clause, sizes in clauses:
        written = _WORD.findall(clause)
        lowered = [w.lower() for w in written]
        stemmed = stems(lowered)
        for size in sizes:
            for start in range(len(lowered) - size + 1):
                if _is_phrase(lowered[start : start + size]):
                    key = tuple(stemmed[start : start + size])
                    found.setdefault(key, " ".join(written[start : start + size]))
    if glossary:  # "LLMs" counts as "large language models" and as "language models"
        for acronym in set(acronyms_in(f"{title} {record.abstract or ''}")):
            long_form = glossary.meaning.get(acronym)
            if long_form and len(long_form) <= 3:
                for start in range(len(long_form) - 1):
                    found.setdefault(long_form[start:], acronym)
    return {(key, spelled) for key, spelled in found.items() if " ".join(key) not in _TOO_BROAD}


def _is_phrase(gram: list[str]) -> bool:
    """Words that can name a subject: no stopword anywhere,
    no adverb ("widely adopted") or generic word at the start, and at the end only a head
    noun like "models"; a single word must not be generic."""
    if any(w in STOPWORDS or len(w) < 2 or w.isdigit() for w in gram):
        return False
    if len(gram) == 1:
        return gram[0] not in _GENERIC and gram[0] not in _HEADS and not gram[0].endswith("ly")
    if gram[0] in _GENERIC or gram[0].endswith("ly") or gram[0] in _HEADS and len(gram) == 2:
        return False
    return gram[-1] not in _GENERIC or gram[-1] in _HEADS


def _spelled(spellings: Counter[str]) -> str:
    """The phrase as most papers write it, in lower case, with its acronym when papers use
    one ("large language models (LLM)")."""
    words: Counter[str] = Counter()
    acronyms: Counter[str] = Counter()
    for text, n in spellings.items():
        if _acronym_like(text):
            acronyms[text] += n
        else:
            words[text.lower()] += n
    if not words:
        return acronyms.most_common(1)[0][0]
    phrase = words.most_common(1)[0][0]
    return f"{phrase} ({acronyms.most_common(1)[0][0]})" if acronyms and " " in phrase else phrase


def _acronym_like(text: str) -> bool:
    """"LLM", "LoRA", "DP-SGD"; not a capitalised compound such as "Privacy-Preserving"."""
    letters = [ch for ch in text if ch.isalpha()]
    capitals = sum(ch.isupper() for ch in letters)
    return capitals >= 2 and capitals >= ACRONYM_CAPITALS * len(letters) and " " not in text


def _same_word(stem: str, asked: frozenset[str]) -> bool:
    """Whether a stem is one of the ``asked`` stems or another form of one: stems sharing
    their first ``SAME_WORD_PREFIX`` letters ("privat" and "privaci") name the same thing."""
    return stem in asked or any(
        len(stem) >= SAME_WORD_PREFIX and len(other) >= SAME_WORD_PREFIX and stem[:SAME_WORD_PREFIX] == other[:SAME_WORD_PREFIX]
        for other in asked
    )


def themes_line(themes: list[Theme], scope: str) -> str:
    """'The most common themes among the 144 papers searched: large language models (39
    papers), reinforcement learning (16), ...'."""
    if not themes:
        return f"No phrase is shared by two or more of {scope}, so no theme can be named."
    named = ", ".join(
        f"{t.phrase} ({len(t.paper_ids)} papers)" if i == 0 else f"{t.phrase} ({len(t.paper_ids)})"
        for i, t in enumerate(themes)
    )
    return f"The most common themes among {scope}, by the papers that name them: {named}."


def cited_line(cited: int, per_theme: int = EXAMPLES_PER_THEME) -> str:
    """What the citations below a themes answer are."""
    return f"Cited: {cited} of their papers, up to {per_theme} a theme."


def examples(themes: list[Theme], per_theme: int = EXAMPLES_PER_THEME) -> list[tuple[str, Theme]]:
    """A few papers of each theme to cite, in theme order, each paper once."""
    seen: set[str] = set()
    picked = []
    for theme in themes:
        for paper_id in [p for p in theme.paper_ids if p not in seen][:per_theme]:
            seen.add(paper_id)
            picked.append((paper_id, theme))
    return picked
