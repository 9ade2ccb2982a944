"""``make bench``: measure quality, speed, ingest, scale and server mode; write the report.

    python -m bench.run --quick            # 144 -> 2,610 -> 5,000 records, a few minutes
    python -m bench.run                    # 144 -> 2,610 -> 10,000 -> 100,000 records
    python -m bench.run --max-size 10000   # full mode without the 100k step

Order of work, chosen so nothing is embedded twice: each corpus size is ingested once, in
its own process (:mod:`bench.point`, which also scores it); sizes above the real listings
copy the previous store and ingest only the new synthetic listings. The quality comparison
then reuses those stores, the latency stages, concurrent clients and server mode run in one
more fresh process (:mod:`bench.speed`), and only the llama-index baseline embeds the
records again (it must: it is a separate pipeline).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import REPO, SHARED, WORK_DIR, machine

PAPERLISTS = Path(os.environ.get("PAPERCHAT_BENCH_PAPERLISTS", SHARED / "listings" / "paperlists_icml2024.json"))
BUNDLED = REPO / "data" / "listings"
REAL_MERGED = 2610
#: Synthetic records carry abstracts up to this corpus size (full mode), titles only above.
ABSTRACT_CAP = 10_000
QUICK_SIZES = (144, 2610, 5000)
FULL_SIZES = (144, 2610, 10_000, 100_000)


@dataclass
class Config:
    """What one run measures; ``--quick`` shrinks sizes and repetitions, not definitions."""

    mode: str
    sizes: list[int]
    abstract_cap: int
    queries: int
    probe: int
    batch_sizes: tuple[int, ...]
    floor_sizes: tuple[int, ...]
    #: Interleaved ingest / floor rounds at the floor sizes (the median ratio is reported).
    floor_rounds: int
    seed: int
    out: Path
    work: Path


def make_config(args: argparse.Namespace) -> Config:
    quick = args.quick
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else list(QUICK_SIZES if quick else FULL_SIZES)
    if args.max_size:
        sizes = [s for s in sizes if s <= args.max_size]
    return Config(
        mode="quick" if quick else "full",
        sizes=sorted(sizes),
        abstract_cap=REAL_MERGED if quick else ABSTRACT_CAP,  # quick: synthetic titles only, to stay fast
        queries=args.queries or (200 if quick else 400),
        # the whole bundled listing (204 chunks): a smaller sample of its long abstracts
        # picked batch 16 over 1 by noise once, and the floor came out slower than ingest
        probe=48 if quick else 256,
        batch_sizes=(1, 2, 4, 16, 32) if quick else (1, 2, 4, 8, 16, 32, 64),
        floor_sizes=(144,) if quick else (144, REAL_MERGED),
        floor_rounds=3 if quick else 5,
        seed=args.seed,
        out=args.out,
        work=args.work,
    )


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- scale points


def corpus_plan(cfg: Config) -> tuple[list[dict[str, Any]], list[str]]:
    """One point spec per size, and notes on what each synthetic step holds."""
    from bench.synth import load_material, write_steps

    bundled = sorted(p for p in BUNDLED.iterdir() if p.is_file())
    real = bundled + ([PAPERLISTS] if PAPERLISTS.is_file() else [])
    specs: list[dict[str, Any]] = []
    notes: list[str] = []
    base_size = REAL_MERGED if PAPERLISTS.is_file() else 144
    synthetic = [s for s in cfg.sizes if s > base_size]
    steps, previous = [], base_size
    for size in synthetic:
        steps.append((size - previous, size <= cfg.abstract_cap))
        previous = size
    written = []
    if steps:
        material = load_material(bundled, avoid=[PAPERLISTS] if PAPERLISTS.is_file() else [])
        written = write_steps(material, cfg.work / "synth", steps, cfg.seed)
    common = {"queries": cfg.queries, "probe": cfg.probe, "batch_sizes": list(cfg.batch_sizes),
              "rounds": cfg.floor_rounds}  # fmt: skip
    for size in cfg.sizes:
        if size <= base_size:
            files = bundled if size <= 144 else real
            label = "bundled listings" if size <= 144 else "bundled + paperlists merge"
            specs.append({**common, "size": size, "label": label, "data_dir": str(cfg.work / "stores" / str(size)),
                          "ingest": [{"files": [str(f) for f in files], "venue": "ICML", "year": 2024}],
                          "floor": size in cfg.floor_sizes})  # fmt: skip
    previous = base_size
    for size, (count, with_abstracts), files in zip(synthetic, steps, written, strict=True):
        kind = "title + authors + abstract" if with_abstracts else "title + authors only"
        notes.append(f"- {size:,} records: the {previous:,}-record store plus {count:,} synthetic papers "
                     f"({kind}) in {len(files)} listing files, ingested incrementally.")  # fmt: skip
        specs.append({**common, "size": size, "label": f"+ {count:,} synthetic ({kind})",
                      "data_dir": str(cfg.work / "stores" / str(size)),
                      "base_dir": str(cfg.work / "stores" / str(previous)),
                      "ingest": [{"files": [str(f) for f in files]}], "floor": False})  # fmt: skip
        previous = size
    return specs, notes


def run_point(spec: dict[str, Any], work: Path, reuse: bool = False) -> dict[str, Any]:
    """Measure one size in two child processes (ingest, then serve) so each RSS is its own.

    With ``reuse``, a size whose figures and store are already in ``work`` from an earlier
    run with the same spec is not measured again (for re-running the later sections).
    """
    spec_path = work / f"point-{spec['size']}.json"
    outputs = {mode: work / f"point-{spec['size']}.{mode}.json" for mode in ("ingest", "serve")}
    same = spec_path.is_file() and json.loads(spec_path.read_text()) == spec
    result: dict[str, Any] = {"size": spec["size"], "corpus": spec["label"], "incremental": bool(spec.get("base_dir"))}
    if reuse and same and all(p.is_file() for p in outputs.values()) and Path(spec["data_dir"]).is_dir():
        log("  reusing the figures and store of an earlier run")
        for path in outputs.values():
            result.update(json.loads(path.read_text()))
        result["reused"] = True
        return result
    spec_path.write_text(json.dumps(spec))
    for mode, out_path in outputs.items():
        out_path.unlink(missing_ok=True)
        subprocess.run([sys.executable, "-m", "bench.point", mode, str(spec_path), str(out_path)], cwd=REPO, check=True)
        result.update(json.loads(out_path.read_text()))
    return result


# ------------------------------------------------------------------ quality and speed


def quality(cfg: Config, points: list[dict[str, Any]], results: dict[str, Any]) -> None:
    """Add the llama-index baseline to the real corpora; the other systems were scored per point."""
    from app.paperchat import PaperChat
    from bench.acronyms import measure as acronym_consistency
    from bench.affiliations import measure as institution_questions
    from bench.llama_baseline import LlamaIndexSystem
    from bench.similar import measure as similar_papers
    from bench.quality import behind, evaluate, load_sets, ratios, summary

    sets = load_sets()
    results["quality"], results["ratios"], results["ratios_all"], results["llama"] = {}, {}, {}, {}
    results["behind"], results["acronyms"], results["affiliations"], results["similar"] = {}, {}, {}, {}
    for point in (p for p in points if not p["incremental"]):
        corpus = corpus_name(point)
        pc = PaperChat(data_dir=point_dir(cfg, point), llm="extractive")
        records = pc.searcher.records
        log(f"llama-index baseline over {len(records)} records")
        llama = LlamaIndexSystem(records, pc.embedder, cfg.work / "llama" / str(point["size"]))
        results["llama"][point["corpus"]] = {"build_seconds": llama.build_seconds, "nodes": llama.nodes,
                                             "records_per_s": len(records) / llama.build_seconds}  # fmt: skip
        llama_rows = evaluate(llama, sets)
        summaries = {"paperchat": point["quality"]["paperchat"], llama.name: summary(llama_rows),
                     **{k: v for k, v in point["quality"].items() if k != "paperchat"}}  # fmt: skip
        results["behind"][corpus] = behind({**point["rows"], llama.name: llama_rows})
        results["quality"][corpus] = summaries
        results["ratios"][corpus] = ratios(summaries)
        results["ratios_all"][corpus] = ratios(summaries, alternatives=[n for n in summaries if n != "paperchat"])
        log(f"acronym / long-form consistency over {len(records)} records")
        results["acronyms"][corpus] = acronym_consistency(pc)
        if (institutions := institution_questions(pc)) is not None:
            log(f"institution questions over {len(records)} records")
            results["affiliations"][corpus] = institutions
        if (similar := similar_papers(pc, sets)) is not None:
            log(f"papers-like-a-paper questions over {len(records)} records")
            results["similar"][corpus] = similar
        llama.close()
        pc.store().close()


def speed(cfg: Config, points: list[dict[str, Any]], results: dict[str, Any]) -> None:
    """Latency stages, concurrency and server mode on the largest real corpus, in a fresh process."""
    point = [p for p in points if not p["incremental"]][-1]
    corpus = corpus_name(point)
    log(f"latency stages, concurrency and server mode over {cfg.queries} queries on {corpus}")
    spec = {"data_dir": str(point_dir(cfg, point)), "work": str(cfg.work / "speed"), "queries": cfg.queries}
    spec_path, out_path = cfg.work / "speed.json", cfg.work / "speed.out.json"
    spec_path.write_text(json.dumps(spec))
    subprocess.run([sys.executable, "-m", "bench.speed", str(spec_path), str(out_path)], cwd=REPO, check=True)
    measured = json.loads(out_path.read_text())
    server = measured.pop("server")
    results["speed"] = {"corpus": corpus, **measured}
    results["server"] = {"corpus": corpus, **server}


def corpus_name(point: dict[str, Any]) -> str:
    return f"{point['corpus']} ({point['records']:,} records)"


def point_dir(cfg: Config, point: dict[str, Any]) -> Path:
    return cfg.work / "stores" / str(point["size"])


# -------------------------------------------------------------------------------- targets


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with what was measured and whether it was met."""
    from bench.quality import issue_alternatives

    out: list[dict[str, Any]] = []
    for corpus, summaries in results["quality"].items():
        ours = summaries["paperchat"]
        others = [summaries[n] for n in issue_alternatives(summaries)]
        behind = []
        for group, values in ours["groups"].items():
            for metric in ("ndcg@10", "completeness", "declined"):
                if metric not in values:
                    continue
                best = max(s["groups"].get(group, {}).get(metric, 0.0) for s in others)
                if values[metric] + 1e-9 < best:
                    behind.append(f"{group} {metric} {values[metric]:.3f} < {best:.3f}")
        out.append({"target": f"quality >= every alternative on every type (nDCG@10, completeness, declined), {corpus}",
                    "measured": "; ".join(behind) or f"all {len(ours['groups'])} types", "met": not behind})  # fmt: skip
        tutorial = summaries.get("llama-index tutorial")
        if tutorial:
            gain = ours["overall"]["ndcg@10"] - tutorial["overall"]["ndcg@10"]
            out.append({"target": f"nDCG@10 >= tutorial + 0.05, {corpus}", "measured": f"{gain:+.3f}", "met": gain >= 0.05})
    by_size = {p["size"]: p for p in results["points"]}
    for size, limit in ((REAL_MERGED, 50.0), (100_000, 150.0)):
        point = by_size.get(size)
        measured = f"{point['search_ms']['p95']:.1f} ms" if point else "not measured in this run"
        out.append({"target": f"search p95 <= {limit:.0f} ms at {size:,} records", "measured": measured,
                    "met": point["search_ms"]["p95"] <= limit if point else None})  # fmt: skip
    if "speed" in results:
        ov = results["speed"]["overhead"]
        out.append({"target": "full search within 3x of the query-embedding floor",
                    "measured": f"{ov['p50']:.1f}x p50, {ov['p95']:.1f}x p95 (CPU time: {ov['cpu']:.1f}x)",
                    "met": max(ov["p50"], ov["p95"]) <= 3.0})  # fmt: skip
    for p in results["points"]:
        if p.get("floor"):
            ratio = p["floor"]["seconds"] / p["ingest_seconds"]
            cpu_ratio = p["floor"]["cpu_seconds"] / p["ingest_cpu_seconds"]
            spread = ""
            if p.get("rounds"):
                ratios = [r["ratio"] for r in p["rounds"]]
                spread = f"; median of {len(ratios)} interleaved rounds, range {min(ratios):.3f}-{max(ratios):.3f}"
            out.append({"target": f"whole ingest >= 0.9 of embedding floor, {p['corpus']}",
                        "measured": f"{ratio:.3f} (CPU time: {cpu_ratio:.3f}{spread})", "met": ratio >= 0.9})  # fmt: skip
    for p in results["points"]:
        share = p["with_abstract"] / p["records"]
        if share >= 0.5:  # the target is about records with abstracts; title-only ones are smaller
            kb = p["disk_bytes"] / p["records"] / 1024
            out.append({"target": f"disk <= 10 KB per record with abstract, {p['records']:,} records "
                                  f"({share:.0%} with abstract)",
                        "measured": f"{kb:.1f} KB", "met": kb <= 10.0})  # fmt: skip
    return out


# ----------------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and fewer repetitions (minutes)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results", help="where REPORT.md goes")
    parser.add_argument("--work", type=Path, default=WORK_DIR, help="scratch directory for stores (large)")
    parser.add_argument("--sizes", help="comma-separated corpus sizes, overriding the mode's")
    parser.add_argument("--max-size", type=int, help="drop sizes above this (full mode's 100k step is slow)")
    parser.add_argument("--queries", type=int, help="timed queries per stage (default 200 quick, 400 full)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic listings")
    parser.add_argument("--reuse", action="store_true",
                        help="keep sizes already measured in --work by an identical earlier run (no re-ingest)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    args = parse_args(argv)
    cfg = make_config(args)
    cfg.work.mkdir(parents=True, exist_ok=True)
    cfg.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    from bench.quality import load_sets

    results: dict[str, Any] = {
        "mode": cfg.mode,
        "command": "python -m bench.run " + shlex.join(sys.argv[1:] if argv is None else list(argv)),
        "machine": machine(),
        "question_sets": {name: len(qs) for name, qs in load_sets().items()},
    }
    specs, results["scale_notes"] = corpus_plan(cfg)
    points: list[dict[str, Any]] = []
    cumulative = 0.0
    for spec in specs:
        log(f"scale point {spec['size']:,}: {spec['label']}")
        point = run_point(spec, cfg.work, reuse=args.reuse)
        cumulative = (cumulative if point["incremental"] else 0.0) + point["ingest_seconds"]
        point["cumulative_ingest_seconds"] = cumulative
        points.append(point)
        log(f"  {point['records']:,} records, ingest {point['ingest_seconds']:.1f}s, "
            f"search p95 {point['search_ms']['p95']:.1f} ms")  # fmt: skip
    results["points"] = points
    quality(cfg, points, results)
    speed(cfg, points, results)
    results["targets"] = targets(results)
    results["load_end"] = [round(x, 2) for x in os.getloadavg()]
    results["wall_seconds"] = time.perf_counter() - started
    write_outputs(cfg, results)
    log(f"done in {results['wall_seconds'] / 60:.1f} min: {cfg.out / 'REPORT.md'}")


def write_outputs(cfg: Config, results: dict[str, Any]) -> None:
    from bench import plots
    from bench.report import render

    for point in results["points"]:
        point.pop("rows", None)  # per-question rows: already distilled into results["behind"]
    (cfg.out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    plots.quality_by_type(results["quality"], cfg.out / "quality_by_type.png")
    plots.latency_vs_size(results["points"], cfg.out / "scale_latency.png", {REAL_MERGED: 50.0, 100_000: 150.0})
    plots.ingest_vs_size(results["points"], cfg.out / "scale_ingest.png")
    (cfg.out / "REPORT.md").write_text(render(results))


if __name__ == "__main__":
    main()
