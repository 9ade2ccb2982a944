"""Warm query latency, from the embedding floor up to a full extractive answer.

Each stage is timed alone over the same cycled questions, so the difference between the
floor (embedding the question, which no dense system can skip) and a full search is
paperchat's own overhead: BM25, the Chroma query, fusion and the relevance decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.search import LEG_DEPTH
from bench.common import concurrent_calls, latency_stats, timed_calls


def stage_latencies(pc: Any, questions: Sequence[str], n: int, llama: Any | None = None) -> dict[str, Any]:
    """p50/p95 per stage; ``llama`` adds the tutorial retriever for comparison."""
    searcher = pc.searcher
    embedder, store = pc.embedder, pc.store()
    vectors = {q: embedder.embed([q])[0] for q in questions}
    stages: dict[str, Any] = {
        "query embedding (floor)": timed_calls(lambda q: embedder.embed([q]), questions, n),
        "BM25 alone": timed_calls(searcher.keyword.scores, questions, n),
        "Chroma query alone": timed_calls(lambda q: store.query(vectors[q], n_results=LEG_DEPTH * 2), questions, n),
        "Chroma query, ids + distances only": timed_calls(lambda q: ids_only(store, vectors[q]), questions, n),
        "full search": timed_calls(pc.search_result, questions, n),
        "full extractive ask": timed_calls(pc.ask, questions, n),
    }
    if llama is not None:
        stages["llama-index retrieve (top 5)"] = timed_calls(llama.retrieve, questions, n)
    out = {name: latency_stats(samples) for name, samples in stages.items()}
    return out


def ids_only(store: Any, vector: Any) -> Any:
    """The same nearest-neighbour query without documents and metadata (a diagnostic).

    ``PaperStore.query`` asks Chroma for every hit's document and metadata, and chunk 0's
    metadata carries the whole record as JSON; this shows what that costs. It reaches into
    the store's collection because the store has no such query, on purpose: it is not
    something the app needs, only something to measure.
    """
    return store._collection.query(query_embeddings=[vector], n_results=LEG_DEPTH * 2, include=["distances"])


def overhead(stages: dict[str, Any]) -> dict[str, float]:
    """Full search over the embedding floor, at p50 and p95 (target: within 3x)."""
    floor, full = stages["query embedding (floor)"], stages["full search"]
    return {"p50": full["p50"] / floor["p50"], "p95": full["p95"] / floor["p95"]}


def concurrency(pc: Any, questions: Sequence[str], n: int, clients: Sequence[int] = (1, 2, 4)) -> list[dict[str, float]]:
    """Full-search latency and throughput with 1, 2 and 4 threads sharing one engine."""
    return [concurrent_calls(pc.search_result, questions, n, c) for c in clients]


def server_latencies(pc: Any, questions: Sequence[str], n: int) -> dict[str, Any]:
    """The Chroma leg and full search through a ``PaperChat(chroma_url=...)``."""
    embedder, store = pc.embedder, pc.store()
    vectors = {q: embedder.embed([q])[0] for q in questions}
    stages = {
        "Chroma query alone": timed_calls(lambda q: store.query(vectors[q], n_results=LEG_DEPTH * 2), questions, n),
        "full search": timed_calls(pc.search_result, questions, n),
    }
    return {name: latency_stats(samples) for name, samples in stages.items()}
