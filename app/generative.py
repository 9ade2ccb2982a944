"""Generative answers whose citations cannot lie: prompt building and citation mapping.

The model sees the papers retrieval kept as numbered ``<source>`` blocks and cites them as
``[n]``. Everything the answer *cites* comes from that numbering, mapped back to the stored
records; nothing the model writes can add a paper:

* a number that was not in the context is removed from the text (while streaming) and
  recorded in ``answer.debug["dropped_citations"]``;
* a title the model writes is text, never a citation; quoted titles found in no source are
  listed in ``answer.debug["unverified_titles"]`` and a notice;
* an answer citing nothing valid (or declining although retrieval kept papers) falls back to
  the extractive list, so the user still gets evidence;
* a list question stays complete: kept papers the model did not cite are appended under
  "Also matched", with the "N of M papers searched matched" line.

Abstracts are data. Inside a source every field is one line and any ``<source>`` /
``</source>`` tag in listing text is defused, so no listing can close the fence early and
speak as the user or the system.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.llms import LLM

from app.extractive import ExtractiveBackend, attach_evidence, matched_line
from app.llms import ModelFailure, context_chars, failure_reason, finish_reason, model_label
from app.papers import NO_ANSWER, Answer, Paper, short_authors
from app.search import SearchResult
from prompts import render

#: ``[3]``, ``[1, 4]``, ``[2-4]``, ``[Source 2]``, ``[#5]``: what counts as a citation marker.
CITATION = re.compile(
    r"\[\s*(?:(?:sources?|papers?|refs?)\s*|#)?(\d{1,3}(?:\s*(?:,|;|and|&|-|–)\s*#?\d{1,3})*)\s*\]",
    re.IGNORECASE,
)
#: What an unfinished marker at the end of a chunk can look like ("[", "[1", "[Source 1, ").
_PARTIAL = re.compile(r"[ \t]?\[\s*(?:s(?:o(?:u(?:r(?:c(?:e(?:s)?)?)?)?)?)?\s*|#)?[\d\s,;&\-–and]*", re.IGNORECASE)
_FENCE_TAG = re.compile(r"<(\s*/?\s*source\b)", re.IGNORECASE)
_SPACED_CITATION = re.compile(r"([ \t]?)" + CITATION.pattern, re.IGNORECASE)
_QUOTED = re.compile(r"[\"“]([^\"“”\n]{12,220})[\"”]")
#: A model that has cited this many numbers outside the context is looping: stop reading it.
_MAX_DROPPED = 20
#: A marker still open at the end of a chunk is held back at most this long.
_HOLD_CHARS = 24
#: No abstract is cut shorter than this; below it, abstracts are left out to fit the context.
_MIN_ABSTRACT_CHARS = 160
#: Room a source takes besides its abstract (tags, title, authors, venue).
_SOURCE_OVERHEAD_CHARS = 260


# -- prompt -----------------------------------------------------------------------------------


def defuse(text: str | None) -> str:
    """One line of listing text that cannot open or close a ``<source>`` fence."""
    if not text:
        return ""
    return _FENCE_TAG.sub(r"‹\1", " ".join(text.split()))


#: Institutions a source names (a big collaboration lists dozens; the model needs a few).
SOURCE_AFFILIATIONS = 6
#: Institutions a source names when many sources share a small context.
COMPACT_AFFILIATIONS = 2


def venue_line(paper: Paper) -> str:
    """'ICML 2024 Oral' — venue, year and status as the source block shows them."""
    return paper.venue_label or "unknown"


def source_block(number: int, paper: Paper, abstract_chars: int, compact: bool = False) -> str:
    """One numbered, fenced source; the title falls back to the untitled form, never a guess.
    ``compact`` names three authors and two institutions, for a context that holds many."""
    abstract = defuse(paper.abstract) or "(no abstract in the listing)"
    if abstract_chars <= 0:
        abstract = "(left out to fit the model's context)"
    elif len(abstract) > abstract_chars:
        abstract = abstract[:abstract_chars].rsplit(" ", 1)[0] + " …"
    authors = short_authors(paper.authors, limit=3) if compact else ", ".join(paper.authors)
    affiliations = paper.affiliations[: COMPACT_AFFILIATIONS if compact else SOURCE_AFFILIATIONS]
    return render(
        "source",
        number=number,
        title=defuse(paper.citation),
        authors=defuse(authors) or "unknown",
        affiliations=defuse("; ".join(affiliations)) or "not given",
        venue=defuse(venue_line(paper)),
        abstract=abstract,
    ).strip()


def fit_sources(papers: Sequence[Paper], budget_chars: int) -> tuple[str, int]:
    """The kept papers as sources 1..n, and n: how many the model's context holds.

    Abstracts are shortened evenly to fit the budget; when even short ones do not fit they
    are left out and titles remain, with fewer authors and institutions if need be. A list
    longer than that (50 papers for a 4,096-token local model) gives the model its best
    papers only; the answer still lists the rest (``compose``), so none is lost.
    """
    if not papers:
        return "", 0
    per_paper = budget_chars // len(papers) - _SOURCE_OVERHEAD_CHARS
    if per_paper < _MIN_ABSTRACT_CHARS:
        per_paper = 0
    blocks = [source_block(i, p, per_paper) for i, p in enumerate(papers, start=1)]
    if per_paper == 0 and sum(len(b) + 2 for b in blocks) > budget_chars:
        blocks = [source_block(i, p, 0, compact=True) for i, p in enumerate(papers, start=1)]
    kept: list[str] = []
    used = 0
    for block in blocks:
        used += len(block) + 2
        if kept and used > budget_chars:
            break
        kept.append(block)
    return "\n\n".join(kept), len(kept)


def build_context(papers: Sequence[Paper], budget_chars: int) -> str:
    """The sources of :func:`fit_sources`, for callers that need only the text."""
    return fit_sources(papers, budget_chars)[0]


def build_messages(result: SearchResult, budget_chars: int) -> tuple[list[ChatMessage], int]:
    """System prompt plus the QA prompt holding the question and the fenced sources, and
    how many of the kept papers those sources are."""
    context, shown = fit_sources(result.papers, budget_chars)
    user = render(
        "qa",
        question=result.question,
        matched_line=matched_line(result),
        context=context,
        no_answer=NO_ANSWER,
    )
    messages = [
        ChatMessage(role=MessageRole.SYSTEM, content=render("system", no_answer=NO_ANSWER).strip()),
        ChatMessage(role=MessageRole.USER, content=user.strip()),
    ]
    return messages, shown


# -- citations ---------------------------------------------------------------------------------


def marker_numbers(inner: str) -> list[int]:
    """The numbers inside one marker, ranges expanded: '1, 3-5' -> [1, 3, 4, 5]."""
    numbers: list[int] = []
    for part in re.split(r"\s*(?:,|;|and|&)\s*", inner):
        bounds = [int(n) for n in re.findall(r"\d+", part)]
        if len(bounds) == 2 and 0 < bounds[1] - bounds[0] <= 50:
            numbers.extend(range(bounds[0], bounds[1] + 1))
        else:
            numbers.extend(bounds)
    return numbers


class CitationFilter:
    """Rewrites streamed text so it only ever shows citation numbers that are in the context.

    A marker split across chunks ("[1" + "2]") is held back until it closes, so what was
    streamed is exactly the final answer's body.
    """

    def __init__(self, sources: int) -> None:
        self.sources = sources
        self.cited: list[int] = []
        self.dropped: list[int] = []
        self._pending = ""

    def feed(self, chunk: str) -> str:
        text = self._pending + chunk
        self._pending = ""
        start = text.rfind("[")
        if start > 0 and text[start - 1] in " \t":  # hold the space too: it goes if the marker goes
            start -= 1
        tail = text[start:] if start != -1 else ""
        if tail and len(tail) < _HOLD_CHARS and _PARTIAL.fullmatch(tail):
            text, self._pending = text[:start], text[start:]
        return self._clean(text)

    def flush(self) -> str:
        text, self._pending = self._pending, ""
        return self._clean(text)

    def _clean(self, text: str) -> str:
        return _SPACED_CITATION.sub(self._marker, text)

    def _marker(self, match: re.Match[str]) -> str:
        kept = []
        for number in marker_numbers(match.group(2)):
            if 1 <= number <= self.sources:
                kept.append(number)
                if number not in self.cited:
                    self.cited.append(number)
            elif number not in self.dropped:
                self.dropped.append(number)
        return match.group(1) + "".join(f"[{n}]" for n in kept) if kept else ""


def unverified_titles(text: str, papers: Sequence[Paper]) -> list[str]:
    """Quoted titles in the answer that no source's title or abstract contains."""
    known = [_squash(p.citation) + " " + _squash(p.abstract or "") for p in papers]
    found = []
    for quoted in _QUOTED.findall(text):
        key = _squash(quoted)
        if len(key) >= 10 and not any(key in k for k in known) and quoted not in found:
            found.append(quoted)
    return found


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def source_line(number: int, paper: Paper) -> str:
    """'[2] Title — A. Author, B. Author et al. (ICML 2024 Oral)'."""
    return f"[{number}] {paper.citation} — {short_authors(paper.authors, limit=3)} ({venue_line(paper)})"


def compose(
    body: str,
    result: SearchResult,
    citations: CitationFilter,
    backend: str,
    idf: Callable[[str], float],
    debug: dict[str, Any],
) -> Answer:
    """The final answer: the model's text with its verified sources, or the extractive list."""
    papers = attach_evidence(result, idf)
    debug = {**debug, "dropped_citations": list(citations.dropped), "model_text": body}
    notices: list[str] = []
    if citations.dropped:
        shown = ", ".join(f"[{n}]" for n in citations.dropped[:10]) + (" …" if len(citations.dropped) > 10 else "")
        notices.append(f"Removed citation numbers that match no source: {shown}.")
    if debug.get("stopped_early"):
        notices.append("Stopped reading the model early: it kept citing sources that do not exist.")
    declined = NO_ANSWER.lower().rstrip(".") in body.lower()
    if declined or not citations.cited:
        why = "declined although retrieval matched papers" if declined else "cited no listed paper"
        fallback = ExtractiveBackend().answer(result, idf)
        fallback.notices = [*notices, f"The {backend} answer {why}; showing the matched papers with evidence instead."]
        fallback.debug.update(debug, fallback_from=backend)
        return fallback

    numbers = sorted(citations.cited)
    also = [n for n in range(1, len(papers) + 1) if n not in citations.cited] if result.intent.wants_list else []
    lines = [matched_line(result), "Sources:", *(source_line(n, papers[n - 1]) for n in numbers)]
    if also:
        lines.append("Also matched (not discussed above):")
        lines.extend(source_line(n, papers[n - 1]) for n in also)
    invented = unverified_titles(body, papers)
    if invented:
        notices.append(
            "The answer quotes titles that are in none of its sources (not citations): "
            + "; ".join(f"“{t}”" for t in invented)
        )
    separator = "\n" if body.endswith("\n") else "\n\n"
    return Answer(
        text=body + separator + "\n".join(lines),
        citations=[papers[n - 1] for n in numbers + also],
        backend=backend,
        searched=result.searched,
        matched=result.matched,
        filters=dict(result.filters),
        notices=notices,
        debug={**debug, "source_numbers": numbers + also, "unverified_titles": invented},
    )


class GenerativeBackend:
    """Answers with a llama-index LLM, streaming; failures raise :class:`ModelFailure`.

    The LLM is built on first use, so choosing a backend is free and a backend that cannot
    be built (no server, no model file) fails only when asked, into the fallback chain.
    """

    def __init__(self, name: str, llm_factory: Callable[[], LLM], timeout: float | None = None) -> None:
        self.name = name
        self._factory = llm_factory
        self._llm: LLM | None = None
        self.timeout = timeout

    @property
    def llm(self) -> LLM:
        if self._llm is None:
            try:
                self._llm = self._factory()
            except ModelFailure:
                raise
            except Exception as error:  # a bad URL, a missing file: say so, then fall back
                raise ModelFailure(self.name, failure_reason(error, self.timeout)) from error
        return self._llm

    def stream_chat_text(self, messages: Sequence[ChatMessage], outcome: dict[str, Any] | None = None) -> Iterator[str]:
        """Text deltas of one ``stream_chat`` call; every failure becomes a ModelFailure.

        A stream that ends without a finish reason was cut off (the server died, a proxy gave
        up): the client sees a clean end of the body, so without this check half an answer
        would pass for a whole one. ``outcome["finish_reason"]`` receives the reason.
        """
        finished: str | None = None
        received = 0
        try:
            for response in self.llm.stream_chat(list(messages)):
                finished = finish_reason(response.raw) or finished
                if response.delta:
                    received += len(response.delta)
                    yield response.delta
        except ModelFailure:
            raise
        except Exception as error:
            raise ModelFailure(self.name, failure_reason(error, self.timeout)) from error
        if finished is None:
            raise ModelFailure(
                self.name, f"the server closed the stream before the answer was finished (after {received} characters)"
            )
        if outcome is not None:
            outcome["finish_reason"] = finished

    def complete(self, messages: Sequence[ChatMessage]) -> str:
        """A whole reply (used to rewrite follow-up questions)."""
        return "".join(self.stream_chat_text(messages)).strip()

    def stream(self, result: SearchResult, idf: Callable[[str], float]) -> Iterator[str | Answer]:
        """Yield text as the model writes it, then the appendix, then the final Answer."""
        if result.declined or result.tally:  # nothing to cite: no model call to spend
            answer = ExtractiveBackend().answer(result, idf)
            answer.backend = self.name
            yield answer.text
            yield answer
            return
        llm = self.llm
        messages, in_prompt = build_messages(result, context_chars(llm))
        citations = CitationFilter(in_prompt)
        started = time.perf_counter()
        first: float | None = None
        parts: list[str] = []
        outcome: dict[str, Any] = {}
        deltas = self.stream_chat_text(messages, outcome)
        for delta in deltas:
            shown = citations.feed(delta)
            if shown:
                first = first if first is not None else time.perf_counter() - started
                parts.append(shown)
                yield shown
            if len(citations.dropped) > _MAX_DROPPED:
                deltas.close()  # frees the local model's lock / the HTTP stream now
                break
        parts.append(citations.flush())
        body = "".join(parts)
        if not body.strip():
            raise ModelFailure(self.name, "the model returned an empty answer")
        debug = {
            "model": model_label(llm),
            "first_token_s": round(first or 0.0, 3),
            "generate_s": round(time.perf_counter() - started, 3),
            "sources_in_prompt": in_prompt,
            "stopped_early": len(citations.dropped) > _MAX_DROPPED,
            "finish_reason": outcome.get("finish_reason"),
        }
        if parts[-1]:
            yield parts[-1]
        answer = compose(body, result, citations, self.name, idf, debug)
        if in_prompt < len(result.papers) and answer.backend == self.name:
            answer.notices.append(
                f"The model read the best {in_prompt} of the {len(result.papers)} papers listed (its context "
                f"holds no more); the others are listed without its comment."
            )
        if answer.text.startswith(body) and len(answer.text) > len(body):
            yield answer.text[len(body) :]  # the verified sources list
        yield answer

    def answer(self, result: SearchResult, idf: Callable[[str], float]) -> Answer:
        """The final answer of :meth:`stream`."""
        final: Answer | None = None
        for item in self.stream(result, idf):
            if isinstance(item, Answer):
                final = item
        assert final is not None
        return final
