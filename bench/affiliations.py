"""Does "Which papers are from MIT?" find every paper with an author there, and only those?

The cases come from the listings' own affiliations (paperlists ``aff`` / ``aff_domain``):

- **full names**: the most frequent institution strings, asked as written ("Which papers are
  from Massachusetts Institute of Technology?"); silver answer: the papers listing exactly
  that string. Papers beyond it are spellings of the same place ("Tsinghua University,
  Tsinghua University") or its parts, which a reader wants too, so they are counted, not
  scored.
- **short names**: the most frequent web-domain labels, asked the way people write them
  ("MIT", "SJTU", "Stanford"); silver answer: the papers with an author at that domain.
- **pasted titles**: every title in three question forms ("Which papers study TITLE?",
  "Papers like TITLE", "Which papers learn from TITLE?"), none of which names an
  institution: the share that wrongly narrows the search to one.

The alternative a user has is find-in-page: every paper whose affiliation text contains the
typed name (case-insensitive, whole words), over the names a listing page shows, and over
the names and web domains the paperlists file holds.
"""

from __future__ import annotations

import re
import statistics
import time
from collections import Counter
from typing import Any

from app.affiliations import domain_label
from ingest.records import PaperRecord

#: Cases of each kind, most frequent first.
FULL_NAME_CASES = 30
SHORT_NAME_CASES = 15
#: A web-domain label is a case when this many papers use it.
MIN_DOMAIN_PAPERS = 20
#: The topic asked with an institution for the latency figures.
LATENCY_TOPIC = "reinforcement learning"


def find_in_page(records: list[PaperRecord], typed: str, with_domains: bool) -> set[str]:
    """Papers whose affiliation names (and domains) contain ``typed`` as whole words, ignoring case."""
    pattern = re.compile(rf"(?<!\w){re.escape(typed)}(?!\w)", re.IGNORECASE)
    return {r.id for r in records
            if any(pattern.search(a) for a in [*r.affiliations, *(r.domains if with_domains else [])])}


def short_name(label: str) -> str:
    """How people write a domain label: "mit" -> "MIT", "stanford" -> "Stanford"."""
    return label.upper() if len(label) <= 5 else label.capitalize()


def _score(found: set[str], silver: set[str]) -> tuple[float, int]:
    return len(found & silver) / len(silver), len(found - silver)


def measure(pc: Any) -> dict[str, Any] | None:
    """Recall per case kind for paperchat and find-in-page, false narrowings, latency;
    ``None`` when the store's listings name no institutions."""
    records: list[PaperRecord] = pc.searcher.records
    if not any(r.affiliations or r.domains for r in records):
        return None
    names = Counter(name for r in records for name in r.affiliations)
    labels_of = {r.id: {label for d in r.domains if (label := domain_label(d))} for r in records}
    labels = Counter(label for found in labels_of.values() for label in found)
    full_names = [name for name, _ in names.most_common(FULL_NAME_CASES)]
    short = [label for label, n in labels.most_common(SHORT_NAME_CASES) if n >= MIN_DOMAIN_PAPERS]

    kinds: dict[str, dict[str, Any]] = {}
    for kind, cases in (("full names", [(n, {r.id for r in records if n in r.affiliations}) for n in full_names]),
                        ("short names", [(short_name(lb), {pid for pid, found in labels_of.items() if lb in found})
                                         for lb in short])):  # fmt: skip
        per_system: dict[str, dict[str, float]] = {}
        for system, answer in (("paperchat", lambda typed: {p.id for p in pc.search(f"Which papers are from {typed}?")}),
                               ("find-in-page, names", lambda typed: find_in_page(records, typed, False)),
                               ("find-in-page, names + domains", lambda typed: find_in_page(records, typed, True))):  # fmt: skip
            scores = [_score(answer(typed), silver) for typed, silver in cases]
            per_system[system] = {
                "recall": statistics.mean(s[0] for s in scores),
                "min recall": min(s[0] for s in scores),
                "more papers (median)": statistics.median(s[1] for s in scores),
            }
        kinds[kind] = {"cases": [typed for typed, _ in cases], "systems": per_system,
                       "silver_mean": statistics.mean(len(s) for _, s in cases)}  # fmt: skip

    finder = pc.searcher.affiliations
    titles = [r.title for r in records if r.title]
    probes = [q for t in titles for q in (f"Which papers study {t}?", f"Papers like {t}",
                                          f"Which papers learn from {t.split(':')[0]}?")]  # fmt: skip
    narrowed = [q for q in probes if finder.find(q)]

    questions = [f"Which papers from {short_name(lb)} study {LATENCY_TOPIC}?" for lb in short]
    for question in questions:
        pc.search(question)  # warm
    times = []
    for _ in range(max(1, 100 // max(1, len(questions)))):
        for question in questions:
            started = time.perf_counter()
            pc.search(question)
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "kinds": kinds,
        "with_affiliations": sum(1 for r in records if r.affiliations or r.domains),
        "probes": len(probes),
        "narrowed": len(narrowed),
        "narrowed_examples": narrowed[:3],
        "latency_ms": {"p50": times[len(times) // 2], "p95": times[int(len(times) * 0.95) - 1], "n": len(times)},
    }
