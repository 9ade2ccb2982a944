"""Benchmarks for paperchat: quality, speed, ingest and scale, against what users use instead.

Run ``python -m bench.run --quick`` (a few minutes) or ``python -m bench.run`` (the full
scale curve); results land in ``bench/results/REPORT.md`` with PNG plots beside it. Large
temporary stores live under ``/tmp/paperchat-bench`` so nothing big enters the repository.
"""
