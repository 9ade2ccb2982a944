"""Listing files in, store updated: parse, merge with what is stored, embed what changed.

Re-ingesting is idempotent: records are merged into the stored ones (ids are kept), and only
records whose content changed are chunked and embedded again. A file that cannot be parsed
is reported with its path and position and skipped; the other files still ingest.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ingest.chunking import embedding_text_chunks
from ingest.merge import merge_records
from ingest.parsers import ListingDefaults, ListingParseError, parse_listing
from ingest.records import PaperRecord
from vectorstore.embedding import Embedder
from vectorstore.store import PaperStore

#: Chunks embedded per model call; larger batches gain little on 2 cores and delay progress.
EMBED_BATCH = 32
#: Papers written to Chroma per call.
UPSERT_BATCH = 256


@dataclass
class FileReport:
    """What happened to one listing file's entries.

    ``parsed`` entries were read; ``merged`` of them joined a record that already existed (in
    the store, or started by an earlier entry of this run). Each record that did not exist
    before the run is counted ``new`` once, by the entry that started it, so the files' ``new``
    add up to the records added. An entry that joined a stored record counts ``updated`` if
    that record changed (and is embedded again) and ``unchanged`` otherwise.
    """

    path: str
    format: str | None = None
    parsed: int = 0
    merged: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)
    error: str | None = None

    def summary(self) -> str:
        if self.error:
            return f"{self.path}: FAILED: {self.error}"
        line = (
            f"{self.path} [{self.format}]: parsed {self.parsed}, merged {self.merged}, "
            f"new {self.new}, updated {self.updated}, unchanged {self.unchanged}"
        )
        if self.problems:
            line += f", skipped {len(self.problems)} bad entries"
        return line


@dataclass
class IngestReport:
    """The outcome of one ingest run, per file and overall."""

    files: list[FileReport]
    records: int = 0
    embedded_papers: int = 0
    embedded_chunks: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """False when any file failed or had entries that could not be parsed."""
        return all(f.error is None and not f.problems for f in self.files)

    def lines(self) -> list[str]:
        out = [f.summary() for f in self.files]
        for report in self.files:
            out.extend(f"  {problem}" for problem in report.problems)
        out.append(
            f"store: {self.records} papers; embedded {self.embedded_papers} papers "
            f"({self.embedded_chunks} chunks) in {self.seconds:.1f}s"
        )
        return out


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly, plus the files inside named directories (sorted, not hidden)."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(p for p in sorted(path.iterdir()) if p.is_file() and not p.name.startswith("."))
        else:
            files.append(path)
    return files


def ingest_paths(
    paths: Sequence[str | Path],
    store: PaperStore,
    embedder: Embedder,
    format: str | None = None,
    defaults: ListingDefaults | None = None,
    progress: bool | None = None,
    max_tokens: int = 256,
) -> IngestReport:
    """Parse, merge and store the listings at ``paths``; see the module docstring."""
    started = time.perf_counter()
    show_progress = sys.stderr.isatty() if progress is None else progress
    reports: list[FileReport] = []
    incoming: list[PaperRecord] = []
    owners: list[FileReport] = []
    for path in expand_paths(paths):
        report = FileReport(path=str(path))
        reports.append(report)
        try:
            parsed = parse_listing(path, format=format, defaults=defaults)
        except ListingParseError as error:
            report.error = str(error)
            continue
        report.format = parsed.format
        report.parsed = len(parsed.records)
        report.problems = [str(p) for p in parsed.problems]
        incoming.extend(parsed.records)
        owners.extend([report] * len(parsed.records))

    stored_hashes = store.stored_hashes()
    existing = store.records() if stored_hashes else []
    outcome = merge_records(existing, incoming)
    final = outcome.by_id()
    changed = [r for r in outcome.records if stored_hashes.get(r.id) != r.content_hash()]
    changed_ids = {r.id for r in changed}
    for report, placement in zip(owners, outcome.placements):
        if placement.action == "merged":
            report.merged += 1
        if placement.record_id not in stored_hashes:
            if placement.action == "new":  # later entries joining it are merged, not new again
                report.new += 1
        elif placement.record_id in changed_ids:
            report.updated += 1
        else:
            report.unchanged += 1

    chunks = embed_and_store(changed, store, embedder, show_progress, max_tokens)
    return IngestReport(
        files=reports,
        records=len(final),
        embedded_papers=len(changed),
        embedded_chunks=chunks,
        seconds=time.perf_counter() - started,
    )


def embed_and_store(
    records: Sequence[PaperRecord], store: PaperStore, embedder: Embedder, show_progress: bool, max_tokens: int
) -> int:
    """Chunk, embed and upsert records in batches; returns the number of chunks embedded."""
    total = 0
    planned = [(r, embedding_text_chunks(r, embedder.count_tokens, max_tokens=max_tokens)) for r in records]
    planned = [(r, c) for r, c in planned if c]
    bar = tqdm(total=sum(len(c) for _, c in planned), unit="chunk", desc="embedding", disable=not show_progress)
    try:
        for start in range(0, len(planned), UPSERT_BATCH):
            batch = planned[start : start + UPSERT_BATCH]
            texts = [text for _, chunks in batch for text in chunks]
            vectors = []
            for offset in range(0, len(texts), EMBED_BATCH):
                piece = texts[offset : offset + EMBED_BATCH]
                vectors.append(embedder.embed(piece))
                bar.update(len(piece))
            matrix = np.vstack(vectors)
            items, row = [], 0
            for record, chunks in batch:
                items.append((record, chunks, matrix[row : row + len(chunks)]))
                row += len(chunks)
            store.upsert_papers(items)
            total += len(texts)
    finally:
        bar.close()
    return total
