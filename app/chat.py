"""Conversation: follow-ups answered from the previous turn's papers, filters carried over.

A follow-up is read in two layers:

1. **References, by rule** (works with every backend, extractive included, and cannot be
   talked out of the store): "the second one", "[3]", "paper 3" pick one paper of the
   previous answer, in the order that answer listed them; "those", "them", "these" restrict
   retrieval to the previous answer's papers; "it" / "that one" pick the previous answer's
   paper when it had exactly one; "what about X?" searches X under the carried filters.
2. **Wording, by the model** (generative backends only): the condense prompt rewrites the
   follow-up into a standalone question. When the rules found a reference, the rules keep
   deciding which papers are in scope and the rewrite only words the answer prompt. When they
   found none ("any on robotics?", "and what else is there on this?"), the rewrite is also
   what retrieval searches, because only the model can tell what such a message is about.
   The rules still guard it: a message pointing at an earlier paper the rules could not
   find is not handed to the model to guess; a rewrite that fails, comes back unusable or
   retrieves nothing leaves the message's own wording in place.

Filters of the previous turn are kept unless the follow-up names a different value for the
same field (or the caller passes ``where``). Citations always come from the current turn's
retrieval. History is a sequence of ``(message, Answer)`` pairs, oldest first.

:class:`PaperChatEngine` is the same conversation as a llama-index ``BaseChatEngine``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole
from llama_index.core.chat_engine.types import AgentChatResponse, BaseChatEngine, StreamingAgentChatResponse

from app.engine import PaperQueryEngine, paper_node
from app.papers import NO_ANSWER, Answer, Paper, short_authors
from app.question import implied_filters, prepare_question, read_intent
from app.search import HybridSearcher, SearchResult
from app.similar import asks_for_similar
from app.text import content_terms
from prompts import render

History = Sequence[tuple[str, Answer]]

_ORDINALS: dict[str, int] = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5,
    "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "last": -1,
}  # fmt: skip
_NOUN = r"(?:one|paper|oral|work|talk|poster|spotlight|result|article|entry|item)s?"
_ORDINAL = re.compile(
    r"\bthe\s+(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last|\d{1,2}(?:st|nd|rd|th))"
    rf"(?:\s+{_NOUN}(?:\s+(?:of\s+(?:those|these|them)|on\s+(?:the|that)\s+list))?|\s+of\s+(?:those|these|them))\b",
    re.IGNORECASE,
)
_NUMBERED = re.compile(r"\[(\d{1,2})\]|\b(?:paper|source|number|no\.|#)\s*(\d{1,2})\b", re.IGNORECASE)
_PLURAL = re.compile(r"\b(?:those|these|them)(?:\s+(?:papers|orals|ones|works|talks|posters))?\b|\bthe above\b", re.IGNORECASE)
_SINGULAR = re.compile(r"\b(?:it|that one|this one|(?:that|this)\s+(?:paper|oral|work|talk|poster))\b", re.IGNORECASE)
_ELLIPTICAL = re.compile(r"^\s*(?:(?:what|how)\s+about|and|also|or|only|just)\b", re.IGNORECASE)
#: Rewrites longer than this are not questions; the rule-based wording is kept.
_MAX_REWRITE_CHARS = 400


@dataclass
class TurnPlan:
    """How one message will be answered: wording, retrieval scope and filters."""

    message: str
    standalone: str
    search_text: str
    filters: dict[str, Any]
    reference: str | None = None
    scope: list[Paper] | None = None
    notices: list[str] = field(default_factory=list)
    rewritten_by: str = "rules"
    #: Who worded ``search_text``: "rules" (the message itself) or the backend that rewrote it.
    searched_by: str = "rules"
    #: The message names an earlier paper ("the ninth one") that the rules could not find.
    unresolved: bool = False

    @property
    def single(self) -> bool:
        """The message points at one paper: that paper is the answer, no search runs."""
        return self.reference in ("ordinal", "number", "singular")


def previous_turn(history: History) -> tuple[str, Answer] | None:
    """The most recent turn that cited papers (a declined turn has nothing to refer to)."""
    for message, answer in reversed(history):
        if answer.citations:
            return message, answer
    return None


def listed_numbers(answer: Answer) -> list[int]:
    """The number the answer showed next to each cited paper ([1], [2], ... for extractive)."""
    numbers = answer.debug.get("source_numbers")
    if isinstance(numbers, list) and len(numbers) == len(answer.citations):
        return [int(n) for n in numbers]
    return list(range(1, len(answer.citations) + 1))


def carried_filters(message: str, history: History, facets: dict[str, Any], where: dict[str, Any] | None) -> dict[str, Any]:
    """The previous turn's filters, with any field the message names replaced."""
    if where is not None:
        return dict(where)
    carried = dict(history[-1][1].filters) if history else {}
    named = implied_filters(message, set(facets["venue"]), set(facets["year"]), set(facets["status"]))
    return {**carried, **named}


def plan_turn(message: str, history: History, facets: dict[str, Any], where: dict[str, Any] | None = None) -> TurnPlan:
    """Resolve references in ``message`` against the history, by rule only."""
    filters = carried_filters(message, history, facets, where)
    plan = TurnPlan(message=message, standalone=message, search_text=message, filters=filters)
    previous = previous_turn(history)
    if previous is None:
        return plan

    picked = _pick_one(message, history)
    if picked is not None:
        kind, span, paper = picked
        plan.reference, plan.scope = kind, [paper]
        plan.standalone = message.replace(span, f"“{paper.citation}”", 1)
        if paper.title and asks_for_similar(message):  # "more like the second one": its neighbours
            plan.reference, plan.scope = "similar", None
            plan.standalone = plan.search_text = message.replace(span, f"“{paper.title}”", 1)
        return plan
    if _ORDINAL.search(message) or _NUMBERED.search(message):
        plan.unresolved = True
        plan.notices.append(
            "Could not tell which earlier paper the question points to; answered it as a new question."
        )
        return plan
    plural = _PLURAL.search(message)
    if plural:  # "those" is a set: the latest answer that listed several papers
        asked, answer = next(((m, a) for m, a in reversed(history) if len(a.citations) > 1), previous)
        plan.reference, plan.scope = "plural", list(answer.citations)
        plan.standalone = message[: plural.start()] + _describe(answer.citations, asked) + message[plural.end() :]
        return plan
    if _ELLIPTICAL.search(message):  # "what about X?": search X under the carried filters
        plan.reference = "continuation"
    return plan


def _describe(papers: Sequence[Paper], asked: str) -> str:
    """How a rule-based rewrite names the previous answer's papers."""
    if len(papers) <= 3:
        return ", ".join(f"“{p.citation}”" for p in papers)
    return f"the {len(papers)} papers of the previous answer (to “{asked}”)"


def _pick_one(message: str, history: History) -> tuple[str, str, Paper] | None:
    """(kind, matched text, paper) for 'the second one', '[3]' or 'it'; None otherwise.

    An ordinal counts in the most recent answer that listed that many papers, so "the second
    one" still means the list's second paper after a turn about a single paper.
    """
    answers = [answer for _, answer in reversed(history) if answer.citations]
    if not answers:
        return None
    ordinal = _ORDINAL.search(message)
    if ordinal:
        word = ordinal.group(1).lower()
        position = _ORDINALS.get(word) or int(re.sub(r"\D", "", word))
        for answer in answers:
            index = len(answer.citations) - 1 if position == -1 else position - 1
            if 0 <= index < len(answer.citations):
                return "ordinal", ordinal.group(0), answer.citations[index]
        return None
    numbered = _NUMBERED.search(message)
    if numbered:
        number = int(numbered.group(1) or numbered.group(2))
        for answer in answers:
            numbers = listed_numbers(answer)
            if number in numbers:
                return "number", numbered.group(0), answer.citations[numbers.index(number)]
        return None
    singular = _SINGULAR.search(message)
    if singular and len(answers[0].citations) == 1:
        return "singular", singular.group(0), answers[0].citations[0]
    return None


# -- model rewrite --------------------------------------------------------------------------


def condense_messages(message: str, history: History) -> list[ChatMessage]:
    """The condense prompt: previous answer's papers in the order shown, recent turns, follow-up."""
    previous = previous_turn(history)
    papers = previous[1].citations if previous else []
    listed = "\n".join(f"{i}. {p.citation} — {short_authors(p.authors, 3)}" for i, p in enumerate(papers, 1))
    turns = []
    for asked, answer in list(history)[-3:]:
        cited = "; ".join(p.citation for p in answer.citations[:8]) or NO_ANSWER
        turns.append(f"User: {asked}\nAssistant: cited {len(answer.citations)} papers: {cited}")
    prompt = render("condense", previous_papers=listed or "(none)", history="\n".join(turns), question=message)
    return [ChatMessage(role=MessageRole.USER, content=prompt.strip())]


def clean_rewrite(text: str | None) -> str | None:
    """The rewritten question, or None when the reply is not a usable question."""
    if not text:
        return None
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    line = re.sub(r"^(?:standalone question|rewritten question|question)\s*:\s*", "", line, flags=re.IGNORECASE)
    line = line.strip().strip("\"“”'").strip()
    if not 5 <= len(line) <= _MAX_REWRITE_CHARS or "<source" in line.lower() or NO_ANSWER in line:
        return None
    if not content_terms(line):  # "1. 2.", "...": a small model's noise, nothing to ask or search
        return None
    return line


def rewrite_with_model(plan: TurnPlan, history: History, backend: Any) -> None:
    """Let a generative backend word the standalone question; keep the rule's wording otherwise.

    Without a scope from the rules the rewrite becomes the search text too (see the module
    docstring); :func:`stream_turn` falls back to the message when it retrieves nothing.
    """
    rewrite = getattr(backend, "rewrite", None)
    if rewrite is None or previous_turn(history) is None or plan.unresolved:
        return
    reply, used, failures = rewrite(condense_messages(plan.message, history))
    plan.notices.extend(failures)
    question = clean_rewrite(reply)
    if question is None:
        return
    plan.standalone, plan.rewritten_by = question, used or "model"
    if plan.scope is None:
        plan.search_text, plan.searched_by = question, plan.rewritten_by


# -- answering ---------------------------------------------------------------------------------


def scoped_result(searcher: HybridSearcher, plan: TurnPlan) -> SearchResult:
    """Retrieval restricted to the plan's scope (the previous answer's papers)."""
    records = [searcher.by_id[p.id] for p in plan.scope or [] if p.id in searcher.by_id]
    if plan.single:
        papers = [Paper.from_record(r, score=1.0) for r in records]
        return SearchResult(
            question=plan.standalone,
            papers=papers,
            searched=len(papers),
            filters=dict(plan.filters),
            implied_filters={},
            intent=replace(read_intent(plan.standalone, set(), set(), set()), wants_list=False),  # "who wrote it?"
            ranked=list(papers),
            debug={"decision": {"reason": f"follow-up names one paper ({plan.reference})"}},
        )
    inner = HybridSearcher(searcher.store, searcher.embedder, records=records, policy=searcher.policy)
    result = inner.search(plan.search_text, where=plan.filters, for_answer=True)
    topic = content_terms(_PLURAL.sub(" ", plan.message))
    if not result.papers and not topic:  # "summarise those": the whole scope is the answer
        result.papers = [Paper.from_record(r, score=1.0) for r in records]
        result.intent = read_intent(plan.standalone, set(), set(), set())
        result.debug["decision"] = {"reason": "follow-up about all of the previous papers"}
    return result


def stream_turn(
    engine: PaperQueryEngine, message: str, history: History = (), where: dict[str, Any] | None = None
) -> Iterator[str | Answer]:
    """Answer one conversational message: text chunks, then the final Answer."""
    # an over-long message is cut (with a notice) before any model sees it, and so are the
    # earlier ones, which the follow-up rewrite quotes; see app.question.prepare_question
    message, asked_notices = prepare_question(message)
    history = [(prepare_question(asked)[0], answer) for asked, answer in history]
    searcher = engine.searcher
    plan = plan_turn(message, history, searcher.facets(), where)
    rewrite_with_model(plan, history, engine.backend)
    if plan.scope is None:
        result = searcher.search(plan.search_text, where=plan.filters, for_answer=True)
        if not result.papers and plan.searched_by != "rules":  # the rewrite found nothing: the message's words
            plan.standalone = plan.search_text = plan.message
            plan.rewritten_by = plan.searched_by = "rules"
            result = searcher.search(plan.search_text, where=plan.filters, for_answer=True)
    else:
        result = scoped_result(searcher, plan)
    result.question = plan.standalone
    for item in engine.stream_result(result):
        if isinstance(item, Answer):
            item.notices[:0] = [*asked_notices, *plan.notices]
            item.debug.update(
                standalone=plan.standalone,
                reference=plan.reference,
                rewritten_by=plan.rewritten_by,
                search_text=plan.search_text,
                searched_by=plan.searched_by,
                scope=[p.id for p in plan.scope] if plan.scope is not None else None,
            )
        yield item


# -- llama-index chat engine ----------------------------------------------------------------------


class PaperChatEngine(BaseChatEngine):
    """A llama-index chat engine over :func:`stream_turn` that keeps its own history.

    ``chat_history`` passed to ``chat`` is ignored: a follow-up needs the previous answer's
    papers, which plain chat messages do not carry.
    """

    def __init__(self, engine: PaperQueryEngine, where: dict[str, Any] | None = None) -> None:
        self._engine = engine
        self._where = where
        self.turns: list[tuple[str, Answer]] = []

    @property
    def last_answer(self) -> Answer | None:
        return self.turns[-1][1] if self.turns else None

    def reset(self) -> None:
        self.turns.clear()

    @property
    def chat_history(self) -> list[ChatMessage]:
        messages = []
        for asked, answer in self.turns:
            messages.append(ChatMessage(role=MessageRole.USER, content=asked))
            messages.append(ChatMessage(role=MessageRole.ASSISTANT, content=answer.text))
        return messages

    def _record(self, message: str, answer: Answer) -> None:
        self.turns.append((message, answer))

    def chat(self, message: str, chat_history: list[ChatMessage] | None = None) -> AgentChatResponse:
        answer = None
        for item in stream_turn(self._engine, message, self.turns, self._where):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        self._record(message, answer)
        return AgentChatResponse(
            response=answer.text, source_nodes=[paper_node(p) for p in answer.citations], metadata={"answer": answer}
        )

    def stream_chat(self, message: str, chat_history: list[ChatMessage] | None = None) -> StreamingAgentChatResponse:
        response = StreamingAgentChatResponse(is_writing_to_memory=False)

        def deltas() -> Iterator[ChatResponse]:
            shown = ""
            for item in stream_turn(self._engine, message, self.turns, self._where):
                if isinstance(item, Answer):
                    self._record(message, item)
                    response.source_nodes = [paper_node(p) for p in item.citations]
                    response.metadata = {"answer": item}
                    if not item.text.startswith(shown):  # fallback replaced the streamed text
                        item_text = "\n\n" + item.text
                        yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=item_text), delta=item_text)
                    continue
                shown += item
                yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=shown), delta=item)

        response.chat_stream = deltas()
        return response

    async def achat(self, message: str, chat_history: list[ChatMessage] | None = None) -> AgentChatResponse:
        return self.chat(message, chat_history)

    async def astream_chat(self, message: str, chat_history: list[ChatMessage] | None = None) -> StreamingAgentChatResponse:
        raise NotImplementedError("use stream_chat; the local and HTTP models here are driven synchronously")
