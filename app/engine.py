"""The llama-index query engine Python users call: ``engine.query(q)``.

It wraps hybrid retrieval and an answer backend in llama-index's ``CustomQueryEngine`` so the
result is a standard ``Response``: ``response`` holds the answer text and ``source_nodes`` one
node per cited paper, whose metadata carries the paper's fields. The full
:class:`~app.papers.Answer` rides along in ``response.metadata["answer"]``.

``stream_answer`` is the streaming form: text chunks as the model writes them, then the final
``Answer``. In the normal case the chunks concatenate to ``answer.text``; when they do not
(a backend failed mid-stream, or the model cited nothing valid and the extractive list
replaced its text) the consumer should replace what it showed with ``answer.text``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from llama_index.core.base.response.schema import Response
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.schema import NodeWithScore, TextNode
from pydantic import Field

from app.backends import AnswerBackend, stream_of
from app.papers import Answer, Paper
from app.question import prepare_question
from app.search import HybridSearcher, SearchResult


def paper_node(paper: Paper) -> NodeWithScore:
    """A llama-index node for a cited paper: abstract as text, the paper's fields as metadata."""
    metadata = {
        "paper_id": paper.id,
        "title": paper.title,
        "citation": paper.citation,
        "authors": paper.authors,
        "venue": paper.venue,
        "year": paper.year,
        "status": paper.status,
        "url": paper.url,
        "evidence": paper.evidence,
        "sources": paper.sources,
    }
    node = TextNode(
        id_=paper.id,
        text=paper.abstract or paper.citation,
        metadata=metadata,
        excluded_embed_metadata_keys=list(metadata),
        excluded_llm_metadata_keys=["sources", "paper_id"],
    )
    return NodeWithScore(node=node, score=paper.score)


class PaperQueryEngine(CustomQueryEngine):
    """Retrieve with :class:`HybridSearcher`, answer with the configured backend."""

    searcher: HybridSearcher = Field(description="Hybrid retrieval over one store.")
    backend: Any = Field(description="An AnswerBackend.")
    where: dict[str, Any] | None = Field(default=None, description="Metadata filters for every query.")
    before_query: Any = Field(
        default=None, description="Called before each search (PaperChat reloads a store another process changed)."
    )

    def _before(self) -> None:
        if callable(self.before_query):
            self.before_query()

    def answer(self, question: str, where: dict[str, Any] | None = None) -> Answer:
        """Search, then let the backend write the answer from the kept papers."""
        self._before()
        searcher = self.searcher  # one catalogue for the whole answer, even if a reload swaps it
        question, notices = prepare_question(question)
        result = searcher.search(question, where=where if where is not None else self.where, for_answer=True)
        backend: AnswerBackend = self.backend
        answer = backend.answer(result, searcher.keyword.idf)
        answer.debug.setdefault("decision", result.debug.get("decision"))
        answer.notices[:0] = [*notices, *result.notices]
        return answer

    def stream_answer(self, question: str, where: dict[str, Any] | None = None) -> Iterator[str | Answer]:
        """Search, then stream the backend's answer: text chunks, then the final ``Answer``."""
        self._before()
        question, notices = prepare_question(question)
        result = self.searcher.search(question, where=where if where is not None else self.where, for_answer=True)
        for item in self.stream_result(result):
            if isinstance(item, Answer):
                item.notices[:0] = notices
            yield item

    def stream_result(self, result: SearchResult) -> Iterator[str | Answer]:
        """Stream the answer for an existing search result (the chat engine narrows results)."""
        for item in stream_of(self.backend, result, self.searcher.keyword.idf):
            if isinstance(item, Answer):
                item.debug.setdefault("decision", result.debug.get("decision"))
                item.notices[:0] = result.notices
            yield item

    def custom_query(self, query_str: str) -> Response:
        answer = self.answer(query_str)
        return Response(
            response=answer.text,
            source_nodes=[paper_node(p) for p in answer.citations],
            metadata={"answer": answer, "backend": answer.backend},
        )
