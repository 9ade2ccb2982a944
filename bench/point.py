"""One point of the scale curve, measured in a fresh process.

A fresh process per corpus size is what makes peak RSS mean something (the parent has
loaded every earlier store), and it mirrors how a user runs ``paperchat ingest`` and then
the app. The point:

1. optionally copies an existing store (the smaller corpus) and ingests only the new
   listings into it, the way a user adds a conference;
2. ingests with PaperChat.ingest, timing its phases by wrapping the functions the pipeline
   calls (parse, merge, chunk, embed, write), so the breakdown is of the real run;
3. optionally measures the embedding floor on exactly the texts the ingest embedded,
   repeating ingest and floor in interleaved rounds and keeping the median ratio;
4. in a second fresh process (so serving RSS excludes the ingest's allocations), opens the
   searcher, times full searches and scores paperchat, BM25 alone and dense alone.

    python -m bench.point ingest SPEC.json OUT.json     (SPEC written by bench.run)
    python -m bench.point serve SPEC.json OUT.json
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.common import Stopwatch, current_rss_mb, dir_bytes, peak_rss_mb, timed_calls

#: Functions ``ingest.pipeline`` calls, and the phase each one's time is billed to.
PIPELINE_PHASES = {"parse_listing": "parse", "merge_records": "merge", "embedding_text_chunks": "chunk"}


def instrument(pc: Any, watch: Stopwatch, captured: list[str]) -> Callable[[], None]:
    """Time the ingest phases by wrapping what ``ingest.pipeline`` calls; capture embedded texts.

    Returns the function that undoes the wrapping, so the searches that follow run on the
    untouched code.
    """
    import ingest.pipeline as pipeline

    originals = {name: getattr(pipeline, name) for name in PIPELINE_PHASES}
    for name, phase in PIPELINE_PHASES.items():
        setattr(pipeline, name, watch.wrap(phase, originals[name]))
    embedder, store = pc.embedder, pc.store(create=True)
    embed = embedder.embed

    def embed_and_capture(texts: Sequence[str]) -> Any:
        captured.extend(texts)
        return embed(texts)

    # Instance attributes shadow the methods; deleting them restores the methods.
    embedder.embed = watch.wrap("embed", embed_and_capture)
    store.upsert_papers = watch.wrap("write", store.upsert_papers)
    store.stored_hashes = watch.wrap("read_store", store.stored_hashes)
    store.records = watch.wrap("read_store", store.records)

    def restore() -> None:
        for name, original in originals.items():
            setattr(pipeline, name, original)
        del embedder.embed
        for attr in ("upsert_papers", "stored_hashes", "records"):
            delattr(store, attr)

    return restore


def embedding_floor(
    texts: Sequence[str], probe: int, batch_sizes: Sequence[int], best_batch: int | None = None
) -> dict[str, Any]:
    """Raw embedder throughput on ``texts`` at its best batch size.

    Batch sizes are compared on an evenly spaced sample of ``probe`` texts (the embedder
    sorts by length, so the sample spans short titles to long abstracts); the winner then
    embeds every text once, which is the floor an ingest cannot beat. A ``best_batch``
    found by an earlier round skips the comparison.
    """
    from vectorstore.embedding import OnnxMiniLMEmbedder

    per_batch: dict[int, float] = {}
    if best_batch is None:
        step = max(1, len(texts) // max(1, probe))
        sample = list(texts[::step])[:probe]
        for size in batch_sizes:
            model = OnnxMiniLMEmbedder(batch_size=size)
            model.embed(sample[:8])  # warm the session
            started = time.perf_counter()
            model.embed(sample)
            per_batch[size] = len(sample) / (time.perf_counter() - started)
        best_batch = max(per_batch, key=per_batch.get)
    model = OnnxMiniLMEmbedder(batch_size=best_batch)
    started, cpu_started = time.perf_counter(), time.process_time()
    model.embed(list(texts))
    seconds = time.perf_counter() - started
    return {"best_batch": best_batch, "probe_texts_per_s": per_batch, "seconds": seconds,
            "cpu_seconds": time.process_time() - cpu_started, "texts": len(texts),
            "texts_per_s": len(texts) / seconds}  # fmt: skip


def ingest(spec: dict[str, Any]) -> dict[str, Any]:
    """Build the store as ``spec`` says; returns times, phases, floor, peak RSS and disk.

    With a floor to compare against, the ingest and the floor run ``rounds`` times,
    interleaved (ingest, floor, ingest, floor, ...), and the round with the median ratio is
    reported: on a shared 2-core machine identical embedding passes vary by a quarter
    between runs, so one ten-second pair decides nothing. Every round builds a fresh store;
    peak RSS is the first (cold) round's, before later rounds could add to it.
    """
    rounds = max(1, int(spec.get("rounds", 1))) if spec.get("floor") else 1
    data_dir = Path(spec["data_dir"])
    runs: list[dict[str, Any]] = []
    best_batch: int | None = None
    for index in range(rounds):
        # Each round its own directory: Chroma caches its client per path within a process.
        round_dir = data_dir if index == rounds - 1 else data_dir.with_name(f"{data_dir.name}.round{index}")
        run, captured = ingest_once(spec, round_dir)
        if spec.get("floor"):
            run["floor"] = embedding_floor(captured, spec.get("probe", 64), spec.get("batch_sizes", (8, 16, 32, 64)),
                                           best_batch)  # fmt: skip
            best_batch = run["floor"]["best_batch"]
        if round_dir != data_dir:
            shutil.rmtree(round_dir, ignore_errors=True)
        runs.append(run)
    if rounds == 1:
        return runs[0]
    ratios = [run["floor"]["seconds"] / run["ingest_seconds"] for run in runs]
    median = sorted(range(rounds), key=ratios.__getitem__)[rounds // 2]
    summary = [{"ingest_seconds": run["ingest_seconds"], "floor_seconds": run["floor"]["seconds"],
                "ratio": ratio, "cpu_ratio": run["floor"]["cpu_seconds"] / run["ingest_cpu_seconds"]}
               for run, ratio in zip(runs, ratios)]  # fmt: skip
    return {**runs[median], "ingest_peak_rss_mb": runs[0]["ingest_peak_rss_mb"], "rounds": summary,
            "median_round": median}  # fmt: skip


def ingest_once(spec: dict[str, Any], data_dir: Path) -> tuple[dict[str, Any], list[str]]:
    """One whole ingest into a fresh ``data_dir``; its figures and the texts it embedded."""
    from app.paperchat import PaperChat

    shutil.rmtree(data_dir, ignore_errors=True)
    if spec.get("base_dir"):
        shutil.copytree(spec["base_dir"], data_dir)
    pc = PaperChat(data_dir=data_dir, llm="extractive")
    watch = Stopwatch()
    captured: list[str] = []
    restore = instrument(pc, watch, captured)
    parsed = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    for step in spec["ingest"]:
        report = pc.ingest(step["files"], venue=step.get("venue"), year=step.get("year"), progress=False)
        parsed += sum(f.parsed for f in report.files)
        problems = [p for f in report.files for p in ([f.error] if f.error else []) + f.problems]
        if problems:
            raise RuntimeError(f"ingest reported problems: {problems[:3]}")
    ingest_seconds = time.perf_counter() - started
    ingest_cpu = time.process_time() - cpu_started
    restore()
    pc.store().close()
    return {
        "ingest_seconds": ingest_seconds,
        "ingest_cpu_seconds": ingest_cpu,
        "parsed_entries": parsed,
        "phases": dict(watch.seconds),
        "embedded_chunks": len(captured),
        "ingest_peak_rss_mb": peak_rss_mb(),
        "disk_bytes": dir_bytes(data_dir),
        "disk_breakdown": disk_breakdown(data_dir),
    }, captured


def disk_breakdown(data_dir: Path) -> dict[str, int]:
    """Bytes per SQLite table (via ``dbstat``) and for the HNSW files, largest first.

    Chroma keeps documents, metadata, a full-text index and a write-ahead queue of vectors
    in SQLite beside the HNSW index; knowing which one dominates says what to trim.
    """
    import sqlite3

    sizes: dict[str, int] = {}
    database = data_dir / "chroma" / "chroma.sqlite3"
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as con:
            for name, size in con.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
                sizes[f"sqlite {name}"] = int(size)
    except sqlite3.Error:
        sizes["sqlite (no dbstat)"] = database.stat().st_size if database.exists() else 0
    for path in (data_dir / "chroma").glob("*/*"):
        if path.is_file():
            sizes["hnsw " + path.name] = sizes.get("hnsw " + path.name, 0) + path.stat().st_size
    return dict(sorted(sizes.items(), key=lambda kv: -kv[1]))


def serve(spec: dict[str, Any]) -> dict[str, Any]:
    """Open the built store fresh, time full searches, score paperchat and the baselines."""
    from app.paperchat import PaperChat
    from bench.quality import evaluate, load_sets, summary
    from bench.systems import DenseSystem, KeywordSystem, PaperChatSystem

    pc = PaperChat(data_dir=Path(spec["data_dir"]), llm="extractive")
    started = time.perf_counter()
    searcher = pc.searcher
    out: dict[str, Any] = {"open_seconds": time.perf_counter() - started}
    out["records"] = len(searcher.records)
    out["chunks"] = pc.store().count_chunks()
    out["with_abstract"] = sum(1 for r in searcher.records if r.abstract)
    sets = load_sets()
    questions = [q.question for qs in sets.values() for q in qs]
    out["search_ms"] = timed_calls(pc.search_result, questions, spec.get("queries", 200))
    out["search_rss_mb"] = current_rss_mb()
    systems: list[Any] = [PaperChatSystem(pc), KeywordSystem(searcher.records),
                          DenseSystem(pc.store(), pc.embedder, searcher.records)]  # fmt: skip
    if len(searcher.statuses) > 1:  # a status filter changes something only then
        systems += [KeywordSystem(searcher.records, implied_filters=True),
                    DenseSystem(pc.store(), pc.embedder, searcher.records, implied_filters=True)]  # fmt: skip
    rows = {s.name: evaluate(s, sets) for s in systems}
    out["quality"] = {name: summary(r) for name, r in rows.items()}
    out["rows"] = rows
    out["serve_peak_rss_mb"] = peak_rss_mb()
    pc.store().close()
    return out


MODES = {"ingest": ingest, "serve": serve}


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 3 or args[0] not in MODES:
        raise SystemExit("usage: python -m bench.point {ingest,serve} SPEC.json OUT.json")
    spec = json.loads(Path(args[1]).read_text())
    result = MODES[args[0]](spec)
    Path(args[2]).write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
