"""Render ``results.json`` as ``REPORT.md``: tables, targets met or missed, how to rerun.

The report is generated only from the results file, so it can be re-rendered after editing
this module without measuring again: ``python -m bench.report bench/results``.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.affiliations import LATENCY_TOPIC
from bench.quality import METRICS, issue_alternatives

SYSTEM_ORDER = ("paperchat", "llama-index tutorial", "BM25 alone", "dense alone", "BM25 alone + implied filter",
                "dense alone + implied filter")  # fmt: skip


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table; numbers are formatted by :func:`cell`."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _systems(summaries: dict[str, Any]) -> list[str]:
    return [s for s in SYSTEM_ORDER if s in summaries] + [s for s in summaries if s not in SYSTEM_ORDER]


# ----------------------------------------------------------------------------- sections


def header(results: dict[str, Any]) -> str:
    m = results["machine"]
    load_end = results.get("load_end", [])
    reused = [f"{p['records']:,}" for p in results["points"] if p.get("reused")]
    wall = f"{results['wall_seconds'] / 60:.1f} min wall"
    if reused:
        wall += (f" (sizes {', '.join(reused)} reused from an earlier identical run with `--reuse`; "
                 f"their ingest took {sum(p['ingest_seconds'] for p in results['points']) / 60:.1f} min)")
    return "\n".join([
        "# paperchat benchmarks",
        "",
        f"- mode: **{results['mode']}**, command `{results['command']}`, {wall}",
        f"- date: {m['date']}; commit `{m['commit']}`",
        f"- machine: {m['cpus']} CPUs ({m['cpu_model']}), {m.get('ram_gb', '?')} GB RAM, "
        f"{m['platform']}, Python {m['python']}",
        f"- load average (1, 5, 15 min) at start {m['load_average']}, at end {load_end}: "
        "the machine is shared, and a load above the core count slows every figure here "
        "(MODELS.md: up to ~2x against an idle machine).",
        "- gold answers are positions in the ICML 2024 orals listing; papers map to them through "
        "provenance, as in `paperchat eval`. Question sets: "
        + ", ".join(f"{k} ({v} questions)" for k, v in results["question_sets"].items()) + ".",
    ])  # fmt: skip


def quality_section(results: dict[str, Any]) -> str:
    out = ["## 1. Quality, side by side", "",
           "Rank metrics score each system's ranking; **completeness** (citation recall) and "
           "**precision** score what it would show: paperchat's relevance-kept list, a "
           "baseline's top 5 (`similarity_top_k=5`). **declined** is the share of unanswerable "
           "questions answered with nothing; baselines always return 5 papers, so 0. "
           "BM25 alone indexes title + abstract (no authors) with paperchat's tokenizer; dense "
           "alone is paperchat's Chroma store, best chunk per paper; the llama-index tutorial "
           "baseline is `VectorStoreIndex` + `ChromaVectorStore` (fresh collection, Chroma "
           "defaults) + default `SentenceSplitter`, text = title + abstract, same MiniLM embedder.",
           "",
           "Once the store holds more than orals, a question's word \"orals\" makes paperchat filter "
           "to status Oral, which none of the issue's alternatives does. The **+ implied filter** rows "
           "give BM25 and dense the same filter, to separate that gain from the retrieval itself; "
           "ratios in bold and the targets use the issue's four systems.",
           ""]  # fmt: skip
    for corpus, summaries in results["quality"].items():
        systems = _systems(summaries)
        ratios = results["ratios"][corpus]
        out += [f"### {corpus}", ""]
        rows = [[name, *(summaries[name]["overall"].get(m) for m in METRICS), summaries[name]["list_completeness"]]
                for name in systems]  # fmt: skip
        rows.append(["**ratio paperchat / best of the issue's alternatives**", *(ratios["overall"][m] for m in METRICS),
                     _list_ratio(summaries, issue_alternatives(summaries))])  # fmt: skip
        if len(issue_alternatives(summaries)) < len(summaries) - 1:
            every = results["ratios_all"][corpus]
            rows.append(["ratio paperchat / best of all rows", *(every["overall"][m] for m in METRICS),
                         _list_ratio(summaries, [n for n in summaries if n != "paperchat"])])  # fmt: skip
        out += [table(["overall", *METRICS, "list completeness"], rows), ""]
        types = sorted(summaries["paperchat"]["groups"])
        for metric in ("ndcg@10", "completeness"):
            trows = []
            for t in types:
                if metric not in summaries["paperchat"]["groups"][t]:
                    continue
                values = [summaries[s]["groups"].get(t, {}).get(metric) for s in systems]
                trows.append([f"{t} (n={summaries['paperchat']['groups'][t]['n']})", *values, ratios[t][metric]])
            out += [f"{metric} per question type:", "", table(["type", *systems, "ratio"], trows), ""]
        out += ["<details><summary>every metric per type and system</summary>", ""]
        full = []
        for t in types:
            for s in systems:
                values = summaries[s]["groups"].get(t, {})
                full.append([t, s, *(values.get(m) for m in METRICS)])
        out += [table(["type", "system", *METRICS], full), "", "</details>", ""]
        lagging = results.get("behind", {}).get(corpus, [])
        if lagging:
            brows = [[b["id"], b["type"], b["metric"], b["ours"], b["best"], b["by"], b["question"][:90]] for b in lagging]
            out += [f"Questions where paperchat is behind the best of the issue's alternatives ({len(lagging)}):", "",
                    table(["id", "type", "metric", "paperchat", "best", "by", "question"], brows), ""]  # fmt: skip
        sets = summaries["paperchat"].get("sets", {})
        if len(sets) > 1:
            srows = [[s, *(summaries[s]["sets"][k].get("ndcg@10") for k in sets)] for s in systems]
            out += ["nDCG@10 per question set:", "", table(["system", *sets], srows), ""]
    return "\n".join(out)


def acronym_section(results: dict[str, Any]) -> str:
    """Section 1b: the same question asked with an acronym and with its long form."""
    measured = results.get("acronyms") or {}
    if not measured:
        return ""
    out = ["### Acronym or long form: the same answer?", "",
           "Cases come from the listings: each acronym they define (\"reinforcement learning from human "
           "feedback (RLHF)\") with one meaning, used by 3 to 50 papers. Each is asked twice, \"Which "
           "papers are about RLHF?\" and \"Which papers are about reinforcement learning from human "
           "feedback?\", and scored against the papers whose title or abstract uses either form "
           "(silver: a paper on the topic that uses neither form counts against precision). **overlap** "
           "is the Jaccard similarity of the two answers. Phrase search returns every paper containing "
           "the typed words in order, unlimited (its precision is 1 by the silver's construction).", ""]  # fmt: skip
    metrics = ("recall acronym", "recall long form", "precision acronym", "precision long form", "overlap")
    for corpus, m in measured.items():
        rows = [[system, *(values.get(k) for k in metrics)] for system, values in m["systems"].items()]
        out += [f"{corpus}: {m['cases']} acronyms ({', '.join(m['acronyms'])}), {m['silver_mean']:.1f} papers each on average.", "",
                table(["system", *metrics], rows), ""]  # fmt: skip
        common = m.get("common") or {}
        if common.get("cases"):
            rows = [[system, *(values.get(k) for k in metrics)] for system, values in common["systems"].items()]
            out += [f"{corpus}, common acronyms the listings never define (`app/common_acronyms.py`): "
                    f"{common['cases']} acronyms ({', '.join(common['acronyms'])}), {common['silver_mean']:.1f} papers each on average.", "",
                    table(["system", *metrics], rows), ""]  # fmt: skip
    return "\n".join(out)


def affiliation_section(results: dict[str, Any]) -> str:
    """Section 1c: questions that name an institution, against find-in-page."""
    measured = results.get("affiliations") or {}
    if not measured:
        return ""
    out = ["### Questions that name an institution", "",
           "Cases come from the listing's affiliations: the most frequent institution names asked as "
           "written (\"Which papers are from Massachusetts Institute of Technology?\"; silver: the papers "
           "listing exactly that name), and the most frequent web-domain labels asked as people write them "
           "(\"Which papers are from SJTU?\"; silver: the papers with an author at that domain). **more "
           "papers** are found beyond the silver answer: other spellings of the same institution. "
           "Find-in-page returns every paper whose affiliation text contains the typed words, over the "
           "names a listing page shows, or over the names and domains of the paperlists file. "
           "**pasted titles**: each title put into three question forms that name no institution.", ""]  # fmt: skip
    metrics = ("recall", "min recall", "more papers (median)")
    for corpus, m in measured.items():
        out.append(f"{corpus}: {m['with_affiliations']:,} papers name their institutions.")
        out.append("")
        for kind, k in m["kinds"].items():
            rows = [[system, *(v.get(x) for x in metrics)] for system, v in k["systems"].items()]
            out += [f"{kind}: {len(k['cases'])} cases ({', '.join(k['cases'])}), {k['silver_mean']:.1f} papers each on average.", "",
                    table(["system", *metrics], rows), ""]  # fmt: skip
        lat = m["latency_ms"]
        out += [f"Pasted titles: {m['narrowed']} of {m['probes']:,} questions were narrowed to an institution "
                f"(e.g. \"{m['narrowed_examples'][0]}\")." if m["narrowed_examples"] else
                f"Pasted titles: none of {m['probes']:,} questions was narrowed to an institution.",
                "", f"Institution + topic questions (\"Which papers from MIT study {LATENCY_TOPIC}?\"): search p50 "
                f"{lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms over {lat['n']} searches.", ""]  # fmt: skip
    return "\n".join(out)


def similar_section(results: dict[str, Any]) -> str:
    """Section 1d: "Which orals are similar to X?" against asking with X's title as the topic."""
    measured = results.get("similar") or {}
    if not measured:
        return ""
    out = ["### Papers like a paper", "",
           "For each topic or paraphrase question with three or more gold papers, each titled gold "
           "paper X is asked about (\"Which orals are similar to X?\"); the other gold papers are the ones "
           "a reader wants beside it. Score: the share of them in the top 10 besides X. The alternative "
           "is asking with X's title as the topic (\"Which orals are about X?\").", ""]  # fmt: skip
    for corpus, m in measured.items():
        rows = [[system, value] for system, value in m["systems"].items()]
        lat = m["latency_ms"]
        out += [f"{corpus}: {m['cases']} cases ({m['resolved']} resolved to the named paper).", "",
                table(["question form", f"fellow gold papers in the top {10}"], rows), "",
                f"Search p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms over {lat['n']} searches.", ""]  # fmt: skip
    return "\n".join(out)


def _list_ratio(summaries: dict[str, Any], alternatives: Sequence[str]) -> float:
    mine = summaries["paperchat"]["list_completeness"]
    best = max(summaries[name]["list_completeness"] for name in alternatives)
    return mine / best if best else math.nan


def speed_section(results: dict[str, Any]) -> str:
    speed = results["speed"]
    rows = [[name, s["p50"], s["p95"], s["mean"], s.get("cpu_mean"), s["n"]] for name, s in speed["stages"].items()]
    conc = [[c["clients"], c["p50"], c["p95"], c["qps"], c.get("cpu_mean"), c["n"]] for c in speed["concurrency"]]
    ov = speed["overhead"]
    return "\n".join([
        f"## 2. Speed (warm, {speed['corpus']})", "",
        "Milliseconds per question, nearest-rank percentiles after one warm-up pass over the "
        "questions, cycling all questions of both sets. CPU ms is this process's CPU time (all "
        "threads) per question: when wall time is well above it, the machine was busy.", "",
        table(["stage", "p50 ms", "p95 ms", "mean ms", "CPU ms", "queries"], rows), "",
        f"Full search / embedding floor: **{ov['p50']:.1f}x** at p50, **{ov['p95']:.1f}x** at p95 "
        f"({ov.get('cpu', float('nan')):.1f}x in CPU time).", "",
        "Concurrent clients (threads sharing one engine, full search):", "",
        table(["clients", "p50 ms", "p95 ms", "questions/s", "CPU ms", "queries"], conc),
    ])  # fmt: skip


def ingest_section(results: dict[str, Any]) -> str:
    rows, phases = [], []
    for p in results["points"]:
        if p.get("incremental"):
            continue
        floor = p.get("floor") or {}
        records = p["records"]
        per_text = floor.get("texts_per_s")
        floor_records = records / floor["seconds"] if floor else None
        whole = records / p["ingest_seconds"]
        parse_s = p["phases"].get("parse", 0.0)
        llama = results.get("llama", {}).get(p["corpus"], {})
        rows.append([
            p["corpus"], records, p["embedded_chunks"], p["parsed_entries"] / parse_s if parse_s else None,
            per_text, floor.get("best_batch"), floor_records, whole,
            (floor["seconds"] / p["ingest_seconds"]) if floor else None,
            (floor["cpu_seconds"] / p["ingest_cpu_seconds"]) if floor else None,
            llama.get("records_per_s"), p["ingest_peak_rss_mb"], p["disk_bytes"] / records,
        ])  # fmt: skip
        phases.append([p["corpus"], p["ingest_seconds"], *(p["phases"].get(k, 0.0) for k in
                       ("parse", "merge", "chunk", "embed", "write", "read_store"))])  # fmt: skip
    return "\n".join([
        "## 3. Ingest", "",
        "Whole ingest is `PaperChat.ingest` from listing files to a searchable store. The floor "
        "embeds exactly the texts that ingest embedded, with the batch size that was fastest on a "
        "probe sample, in one sorted pass: nothing an ingest does can beat it. Ingest and floor "
        "run in interleaved rounds, each ingest into a fresh store; the row is the round with the "
        "median ratio (the rounds are listed below the table).", "",
        table(["corpus", "records", "chunks", "parse entries/s", "floor chunks/s", "best batch",
               "floor records/s", "whole ingest records/s", "whole / floor", "whole / floor (CPU)",
               "llama-index build records/s",
               "peak RSS MB", "disk bytes/record"], rows), "", rounds_lines(results["points"]),  # fmt: skip
        "Where the whole-ingest seconds go (timed by wrapping the functions the pipeline calls; a batch is written while the next one embeds, so the phases can add up to more than the total):", "",
        table(["corpus", "total s", "parse", "merge", "chunk", "embed", "write (Chroma)", "read store"], phases),
        "", "Where the bytes on disk go, per record (SQLite tables via `dbstat`, HNSW files):", "",
        disk_table(results["points"]),
    ])  # fmt: skip


def rounds_lines(points: list[dict[str, Any]]) -> str:
    """Every interleaved round's ingest and floor seconds, so the spread is on the page."""
    lines = []
    for p in points:
        if p.get("rounds"):
            cells = ", ".join(f"{r['ingest_seconds']:.1f} s / {r['floor_seconds']:.1f} s = {r['ratio']:.3f}"
                              for r in p["rounds"])  # fmt: skip
            lines.append(f"- {p['corpus']}, rounds (whole ingest / floor = ratio): {cells}")
    return "\n".join(lines) + ("\n" if lines else "")


def disk_table(points: list[dict[str, Any]], top: int = 7) -> str:
    """Bytes per record of the largest parts of each store."""
    parts: list[str] = []
    for p in points:
        for name in list(p.get("disk_breakdown", {}))[:top]:
            if name not in parts:
                parts.append(name)
    rows = [[name, *(p.get("disk_breakdown", {}).get(name, 0) / p["records"] for p in points)] for name in parts]
    rows.append(["total", *(p["disk_bytes"] / p["records"] for p in points)])
    return table(["part", *(f"{p['records']:,} records" for p in points)], rows)


def scale_section(results: dict[str, Any]) -> str:
    rows = []
    for p in results["points"]:
        q = p["quality"]
        filtered = [q.get(f"{name} + implied filter", {}).get("overall", {}).get("ndcg@10")
                    for name in ("BM25 alone", "dense alone")]  # fmt: skip
        rows.append([
            p["records"], p["with_abstract"], p["corpus"], p["ingest_seconds"], p["cumulative_ingest_seconds"],
            p["open_seconds"], p["search_ms"]["p50"], p["search_ms"]["p95"], p["ingest_peak_rss_mb"],
            p["search_rss_mb"], p["disk_bytes"] / p["records"],
            q["paperchat"]["overall"].get("ndcg@10"), q["BM25 alone"]["overall"].get("ndcg@10"),
            q["dense alone"]["overall"].get("ndcg@10"), *filtered, q["paperchat"]["list_completeness"],
            q["paperchat"]["overall"].get("precision"), q["paperchat"]["overall"].get("declined"),
        ])  # fmt: skip
    notes = results.get("scale_notes", [])
    return "\n".join([
        "## 4. Scale curve", "",
        *notes, "",
        table(["records", "with abstract", "corpus", "ingest s (this step)", "ingest s (cumulative)", "open s",
               "search p50 ms", "search p95 ms", "ingest peak RSS MB", "serving RSS MB", "disk bytes/record",
               "nDCG@10 paperchat", "nDCG@10 BM25", "nDCG@10 dense", "nDCG@10 BM25 + filter",
               "nDCG@10 dense + filter", "list completeness", "precision", "declined"], rows),  # fmt: skip
        "", "![latency vs size](scale_latency.png)", "", "![ingest vs size](scale_ingest.png)",
    ])


def server_section(results: dict[str, Any]) -> str:
    server = results.get("server") or {}
    if "error" in server or not server:
        return f"## 5. Server mode\n\nnot measured: {server.get('error', 'skipped')}"
    rows = []
    for stage in server["server"]:
        emb, srv = server["embedded"][stage], server["server"][stage]
        rows.append([stage, emb["p50"], emb["p95"], srv["p50"], srv["p95"], srv["p95"] / emb["p95"]])
    conc = [[c["clients"], c["p50"], c["p95"], c["qps"]] for c in server.get("concurrency", [])]
    return "\n".join([
        f"## 5. Server mode ({server['corpus']})", "",
        "The same store served by `chroma run --path DIR --host 127.0.0.1` (a copy of the embedded "
        "store's directory) and searched through `PaperChat(chroma_url=...)`.", "",
        table(["stage", "embedded p50", "embedded p95", "server p50", "server p95", "p95 server / embedded"], rows),
        "", "Concurrent clients through the server:", "",
        table(["clients", "p50 ms", "p95 ms", "questions/s"], conc),
    ])  # fmt: skip


def targets_section(results: dict[str, Any]) -> str:
    rows = [[t["target"], t["measured"], "not measured" if t["met"] is None else t["met"]] for t in results["targets"]]
    return "\n".join(["## Targets (issue 5)", "", table(["target", "measured", "met"], rows)])


def rerun_section(results: dict[str, Any]) -> str:
    return "\n".join([
        "## Rerun", "",
        "```",
        "make bench         # full: 144 -> 2,610 -> 10,000 -> 100,000 records -> bench/results (~20-60 min)",
        "make bench-quick   # 144 -> 2,610 -> 5,000 records -> bench/results/quick (~5 min)",
        "# both install the bench extra (matplotlib, psutil); the same by hand:",
        ".venv/bin/pip install -e '.[bench]' && .venv/bin/python -m bench.run",
        ".venv/bin/python -m bench.run --max-size 10000   # full, capped (the 100k step embeds ~100k titles)",
        ".venv/bin/python -m bench.run --quick --reuse    # re-measure quality/speed on the stores already built",
        ".venv/bin/python -m bench.report bench/results   # re-render this file from results.json",
        "```",
        "",
        "Stores, synthetic listings and the server's copy live under `/tmp/paperchat-bench` "
        "(`PAPERCHAT_BENCH_WORK`); only this report, `results.json` and the plots are kept.",
    ])


def render(results: dict[str, Any]) -> str:
    sections = [header(results), targets_section(results), quality_section(results),
                acronym_section(results), affiliation_section(results), similar_section(results), "![quality per question type](quality_by_type.png)", speed_section(results),
                ingest_section(results), scale_section(results), server_section(results), rerun_section(results)]  # fmt: skip
    return "\n\n".join(sections) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    out = Path(args[0] if args else "bench/results")
    from bench.run import targets

    results = json.loads((out / "results.json").read_text())
    results["targets"] = targets(results)  # so a change to a target's wording or check shows up too
    (out / "REPORT.md").write_text(render(results))
    print(f"wrote {out / 'REPORT.md'}")


if __name__ == "__main__":
    main()
