"""Shared measuring tools: latency percentiles, concurrent clients, memory, disk, machine.

Kept free of paperchat imports so the numbers' definitions live in one short file that can
be read next to the report: p50/p95 are nearest-rank percentiles of per-call wall time,
measured after a warm-up pass, and RSS is the kernel's resident set size.
"""

from __future__ import annotations

import math
import os
import platform
import resource
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

REPO = Path(__file__).resolve().parent.parent
#: ``../shared`` beside the repository: the conference-scale listing and the dev questions.
SHARED = Path(os.environ.get("PAPERCHAT_SHARED_DIR", REPO.parent / "shared"))
#: Where stores, synthetic listings and servers live: big, disposable, outside the repo.
WORK_DIR = Path(os.environ.get("PAPERCHAT_BENCH_WORK", "/tmp/paperchat-bench"))


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation), so p95 is a latency that really occurred."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_stats(samples_ms: Sequence[float]) -> dict[str, float]:
    """p50, p95, mean and count of latencies in milliseconds."""
    return {
        "p50": percentile(samples_ms, 50),
        "p95": percentile(samples_ms, 95),
        "mean": sum(samples_ms) / len(samples_ms) if samples_ms else float("nan"),
        "n": len(samples_ms),
    }


#: Calls made before timing starts: enough for lazy loads and ONNX Runtime's first-run
#: allocations, without paying a whole extra pass per stage.
WARMUP_CALLS = 10


def timed_calls(fn: Callable[[T], Any], items: Sequence[T], n: int, warmup: bool = True) -> dict[str, float]:
    """Latency stats of ``n`` calls of ``fn``, cycling ``items``, plus CPU ms per call.

    A warm-up of :data:`WARMUP_CALLS` calls comes first, so caches, lazy loads and the
    ONNX session's first-run allocation are not billed to the measured calls. ``cpu_mean``
    is this process's CPU time (all threads) per call: on a shared machine wall time grows
    with other people's load, CPU time much less, so the pair shows how contended a run was.
    """
    if warmup:
        for item in items[:WARMUP_CALLS]:
            fn(item)
    samples: list[float] = []
    cpu_started = time.process_time()
    for i in range(n):
        item = items[i % len(items)]
        started = time.perf_counter()
        fn(item)
        samples.append((time.perf_counter() - started) * 1000)
    cpu_ms = (time.process_time() - cpu_started) * 1000
    return {**latency_stats(samples), "cpu_mean": cpu_ms / max(1, n)}


def concurrent_calls(fn: Callable[[T], Any], items: Sequence[T], n: int, clients: int) -> dict[str, float]:
    """Latency and throughput with ``clients`` threads sharing ``n`` calls.

    Threads, not processes: they share one engine, as a server's request handlers would, and
    onnxruntime and numpy release the GIL while they compute.
    """
    for item in items[:WARMUP_CALLS]:
        fn(item)
    samples: list[float] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        item = items[i % len(items)]
        started = time.perf_counter()
        fn(item)
        elapsed = (time.perf_counter() - started) * 1000
        with lock:
            samples.append(elapsed)

    started, cpu_started = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(one, range(n)))
    wall = time.perf_counter() - started
    cpu_ms = (time.process_time() - cpu_started) * 1000
    return {**latency_stats(samples), "clients": clients, "qps": n / wall, "cpu_mean": cpu_ms / n}


class Stopwatch:
    """Accumulates seconds per named phase; ``wrap`` times every call of a function."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
        self.calls[name] = self.calls.get(name, 0) + 1

    def wrap(self, name: str, fn: Callable[..., T]) -> Callable[..., T]:
        def timed(*args: Any, **kwargs: Any) -> T:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - started)

        return timed


def peak_rss_mb() -> float:
    """The process's peak resident set so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    """Resident set now; psutil when installed (the ``bench`` extra), else /proc."""
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def dir_bytes(path: Path) -> int:
    """Bytes of every file under ``path`` (apparent size, as ``du --apparent-size`` counts)."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def git_commit() -> str:
    """The checked-out commit, with ``+dirty`` when the tree has uncommitted changes."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                                text=True, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True).stdout.strip()  # fmt: skip
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine() -> dict[str, Any]:
    """What the figures were measured on; the load average matters on a shared machine."""
    info: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "commit": git_commit(),
    }
    try:
        import psutil

        info["ram_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
