"""The tutorial baseline: what a llama-index user would write over the same records.

    docs = [Document(text=title + "\\n\\n" + abstract) for each paper]
    index = VectorStoreIndex.from_documents(docs, storage_context=<Chroma>, embed_model=...)
    retriever = index.as_retriever(similarity_top_k=5)

It is a real llama-index pipeline: default ``SentenceSplitter`` chunking (1,024 tokens, 200
overlap), a ``ChromaVectorStore`` over a fresh collection created with Chroma's defaults
(as the llama-index Chroma example does), and the same MiniLM embedder paperchat uses,
wrapped as a llama-index ``BaseEmbedding``. Only the embedder is shared, so differences in
the results come from what paperchat does around it, not from a better model.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.node_parser import SentenceSplitter
from pydantic import PrivateAttr

from app.papers import Paper
from bench.systems import BASELINE_TOP_K, RANK_DEPTH, Retrieval
from ingest.records import PaperRecord
from vectorstore.embedding import Embedder


class PaperchatEmbedding(BaseEmbedding):
    """A llama-index embedding model backed by ``vectorstore.embedding.make_embedder()``."""

    _embedder: Any = PrivateAttr()

    def __init__(self, embedder: Embedder, **kwargs: Any) -> None:
        super().__init__(model_name=embedder.name, **kwargs)
        self._embedder = embedder

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed([query])[0].tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed(texts).tolist()


def tutorial_text(record: PaperRecord) -> str:
    """Title and abstract, as a user building documents from a listing would join them."""
    return "\n\n".join(part for part in (record.title, record.abstract) if part) or ", ".join(record.authors)


class LlamaIndexSystem:
    """``VectorStoreIndex`` + ``ChromaVectorStore`` + ``as_retriever(similarity_top_k=5)``.

    The ranking metrics use a second retriever with ``similarity_top_k=20`` over the same
    index (a top-5 list cannot be scored at rank 10); what the user is shown comes from the
    top-5 retriever itself, since Chroma's approximate search can order a deeper query
    differently.
    """

    name = "llama-index tutorial"

    def __init__(self, records: Sequence[PaperRecord], embedder: Embedder, persist_dir: Path,
                 top_k: int = BASELINE_TOP_K) -> None:  # fmt: skip
        import chromadb
        from chromadb.config import Settings
        from llama_index.vector_stores.chroma import ChromaVectorStore

        shutil.rmtree(persist_dir, ignore_errors=True)
        self.by_id = {r.id: r for r in records}
        self.top_k = top_k
        self.client = chromadb.PersistentClient(path=str(persist_dir), settings=Settings(anonymized_telemetry=False))
        collection = self.client.get_or_create_collection("quickstart")
        storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
        documents = [Document(id_=r.id, text=tutorial_text(r)) for r in records]
        self.embed_model = PaperchatEmbedding(embedder)
        started = time.perf_counter()
        self.index = VectorStoreIndex.from_documents(
            documents,
            storage_context=storage,
            embed_model=self.embed_model,
            transformations=[SentenceSplitter()],
        )
        self.build_seconds = time.perf_counter() - started
        self.nodes = collection.count()
        self.retriever = self.index.as_retriever(similarity_top_k=top_k)
        self._deep = self.index.as_retriever(similarity_top_k=RANK_DEPTH)

    def retrieve(self, question: str) -> list[Any]:
        """The tutorial retriever exactly as configured (top 5), for timing."""
        return self.retriever.retrieve(question)

    def run(self, question: str) -> Retrieval:
        return Retrieval(ranked=self._papers(self._deep.retrieve(question)),
                         returned=self._papers(self.retrieve(question)))  # fmt: skip

    def _papers(self, hits: list[Any]) -> list[Paper]:
        """One paper per document, in hit order (a long abstract may give several nodes)."""
        papers: list[Paper] = []
        seen: set[str] = set()
        for hit in hits:
            pid = hit.node.ref_doc_id
            if pid in self.by_id and pid not in seen:
                seen.add(pid)
                papers.append(Paper.from_record(self.by_id[pid], float(hit.score or 0.0)))
        return papers

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if callable(close):
            close()
