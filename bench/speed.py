"""Warm query latency, from the embedding floor up to a full extractive answer, in a fresh process.

Each stage is timed alone over the same cycled questions, so the difference between the
floor (embedding the question, which no dense system can skip) and a full search is
paperchat's own overhead: BM25, the Chroma query, fusion and the relevance decision.

It runs in its own process, like a user's server would: in the orchestrating process the
llama-index build and other stores have already grown ONNX Runtime's memory arena and
started more Chroma clients, and per-query CPU time there was about twice this process's.
Order inside the process: paperchat's stages, concurrent clients, the server path, and
last the llama-index baseline (its build embeds every record, so it goes after).

    python -m bench.speed SPEC.json OUT.json     (SPEC written by bench.run)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.search import LEG_DEPTH
from bench.common import concurrent_calls, timed_calls


def stage_latencies(pc: Any, questions: Sequence[str], n: int) -> dict[str, Any]:
    """p50/p95 and CPU ms per stage, floor first."""
    searcher = pc.searcher
    embedder, store = pc.embedder, pc.store()
    vectors = {q: embedder.embed([q])[0] for q in questions}
    return {
        "query embedding (floor)": timed_calls(lambda q: embedder.embed([q]), questions, n),
        "BM25 alone": timed_calls(searcher.keyword.scores, questions, n),
        "Chroma query alone": timed_calls(lambda q: store.query(vectors[q], n_results=LEG_DEPTH * 2), questions, n),
        "Chroma query, ids + distances only": timed_calls(lambda q: ids_only(store, vectors[q]), questions, n),
        "full search": timed_calls(pc.search_result, questions, n),
        "full extractive ask": timed_calls(pc.ask, questions, n),
    }


def ids_only(store: Any, vector: Any) -> Any:
    """The same nearest-neighbour query without documents and metadata (a diagnostic).

    ``PaperStore.query`` asks Chroma for every hit's document and metadata, and chunk 0's
    metadata carries the whole record as JSON; this shows what that costs. It reaches into
    the store's collection because the store has no such query, on purpose: it is not
    something the app needs, only something to measure.
    """
    return store._collection.query(query_embeddings=[vector], n_results=LEG_DEPTH * 2, include=["distances"])


def overhead(stages: dict[str, Any]) -> dict[str, float]:
    """Full search over the embedding floor, at p50 and p95 (target: within 3x), and in CPU."""
    floor, full = stages["query embedding (floor)"], stages["full search"]
    return {"p50": full["p50"] / floor["p50"], "p95": full["p95"] / floor["p95"],
            "cpu": full["cpu_mean"] / floor["cpu_mean"]}  # fmt: skip


def concurrency(pc: Any, questions: Sequence[str], n: int, clients: Sequence[int] = (1, 2, 4)) -> list[dict[str, float]]:
    """Full-search latency and throughput with 1, 2 and 4 threads sharing one engine."""
    return [concurrent_calls(pc.search_result, questions, n, c) for c in clients]


def server_latencies(pc: Any, questions: Sequence[str], n: int) -> dict[str, Any]:
    """The Chroma leg and full search through one ``PaperChat``, embedded or client/server."""
    embedder, store = pc.embedder, pc.store()
    vectors = {q: embedder.embed([q])[0] for q in questions}
    return {
        "Chroma query alone": timed_calls(lambda q: store.query(vectors[q], n_results=LEG_DEPTH * 2), questions, n),
        "full search": timed_calls(pc.search_result, questions, n),
    }


def server_mode(pc: Any, data_dir: Path, work: Path, questions: Sequence[str], n: int) -> dict[str, Any]:
    """The same store behind ``chroma run`` on loopback, measured next to the embedded path."""
    from app.paperchat import PaperChat
    from bench.server import chroma_server

    embedded = server_latencies(pc, questions, n)
    try:
        with chroma_server(data_dir, work) as url:
            remote = PaperChat(data_dir=work / "client", chroma_url=url, llm="extractive")
            served = server_latencies(remote, questions, n)
            conc = concurrency(remote, questions, n, clients=(2, 4))
            remote.store().close()
    except (OSError, RuntimeError) as error:
        return {"error": str(error)}
    return {"embedded": embedded, "server": served, "concurrency": conc}


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Every latency figure for the store at ``spec["data_dir"]``."""
    from app.paperchat import PaperChat
    from bench.llama_baseline import LlamaIndexSystem
    from bench.quality import load_sets

    data_dir, work, n = Path(spec["data_dir"]), Path(spec["work"]), int(spec["queries"])
    questions = [q.question for qs in load_sets().values() for q in qs]
    pc = PaperChat(data_dir=data_dir, llm="extractive")
    stages = stage_latencies(pc, questions, n)
    out: dict[str, Any] = {"stages": stages, "overhead": overhead(stages),
                           "concurrency": concurrency(pc, questions, n)}  # fmt: skip
    out["server"] = server_mode(pc, data_dir, work / "server", questions, n)
    llama = LlamaIndexSystem(pc.searcher.records, pc.embedder, work / "llama-speed")
    stages["llama-index retrieve (top 5)"] = timed_calls(llama.retrieve, questions, n)
    llama.close()
    pc.store().close()
    return out


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        raise SystemExit("usage: python -m bench.speed SPEC.json OUT.json")
    result = measure(json.loads(Path(args[0]).read_text()))
    Path(args[1]).write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
