"""PNG plots for the report: quality per question type, latency and ingest against corpus size.

matplotlib runs headless (Agg), so plots are written on a machine with no display.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SYSTEM_COLOURS = {"paperchat": "#1f77b4", "llama-index tutorial": "#ff7f0e", "BM25 alone": "#2ca02c",
                  "dense alone": "#9467bd", "BM25 alone + implied filter": "#98df8a",
                  "dense alone + implied filter": "#c5b0d5"}  # fmt: skip


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _value(summary: dict[str, Any], group: str, metric: str) -> float:
    values = summary["overall"] if group == "overall" else summary["groups"].get(group, {})
    return float(values.get(metric, 0.0))


def quality_by_type(corpora: dict[str, dict[str, Any]], path: Path, metric: str = "ndcg@10") -> Path:
    """Grouped bars: ``metric`` per question type, one bar per system, one panel per corpus."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(corpora), 1, figsize=(10, 3.6 * len(corpora)), squeeze=False)
    for ax, (label, summaries) in zip(axes[:, 0], corpora.items(), strict=True):
        systems = list(summaries)
        types = sorted({t for s in summaries.values() for t, v in s["groups"].items() if metric in v})
        types.append("overall")
        width = 0.8 / len(systems)
        for i, name in enumerate(systems):
            values = [_value(summaries[name], t, metric) for t in types]
            xs = [x + i * width for x in range(len(types))]
            ax.bar(xs, values, width, label=name, color=SYSTEM_COLOURS.get(name),
                   hatch="//" if "filter" in name else None, edgecolor="white")
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(types))], types)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} per question type: {label}")
        ax.legend(fontsize=7, ncol=3, loc="lower left", framealpha=0.9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _size_axis(ax: Any, sizes: list[int]) -> None:
    """Log scale labelled at the measured sizes only, so ticks read "2,610", not "2x10^3"."""
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks(sizes, [f"{s:,}" for s in sizes], fontsize=8)


def latency_vs_size(points: list[dict[str, Any]], path: Path, target_ms: dict[int, float]) -> Path:
    """Search p50 and p95 against records (log x), with the targets as markers."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    sizes = [p["records"] for p in points]
    ax.plot(sizes, [p["search_ms"]["p50"] for p in points], "o-", label="full search p50")
    ax.plot(sizes, [p["search_ms"]["p95"] for p in points], "s-", label="full search p95")
    for size, ms in target_ms.items():
        if size > max(sizes):
            continue  # a target for a size this run did not reach
        ax.plot([size], [ms], "rx", markersize=10)
        ax.annotate(f"target p95 {ms:.0f} ms", (size, ms), textcoords="offset points", xytext=(5, 5), fontsize=8)
    _size_axis(ax, sizes)
    ax.set_xlabel("records in the store")
    ax.set_ylabel("ms per question (warm)")
    ax.set_title("Search latency against corpus size")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def ingest_vs_size(points: list[dict[str, Any]], path: Path) -> Path:
    """Cumulative ingest time, peak RSS and disk per record against records."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    sizes = [p["records"] for p in points]
    axes[0].plot(sizes, [p["cumulative_ingest_seconds"] for p in points], "o-")
    axes[0].set_ylabel("seconds (cumulative ingest)")
    axes[1].plot(sizes, [p["ingest_peak_rss_mb"] for p in points], "o-", label="ingest peak")
    axes[1].plot(sizes, [p["search_rss_mb"] for p in points], "s-", label="serving (RSS)")
    axes[1].set_ylabel("MB resident")
    axes[1].legend(fontsize=8)
    axes[2].plot(sizes, [p["disk_bytes"] / p["records"] / 1024 for p in points], "o-")
    axes[2].set_ylabel("KB on disk per record")
    for ax in axes:
        _size_axis(ax, sizes)
        ax.set_xlabel("records")
        ax.grid(True, alpha=0.3)
    fig.suptitle("Ingest against corpus size")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
