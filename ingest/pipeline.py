"""Listing files in, store updated: parse, merge with what is stored, embed what changed.

Re-ingesting is idempotent: records are merged into the stored ones (ids are kept), and only
records whose content changed are chunked and embedded again. A file that cannot be parsed
is reported with its path and position and skipped; the other files still ingest.

A run either completes or leaves the store as it found it:

* it holds the store's write lock throughout (:mod:`vectorstore.lock`), so no other process
  writes in between;
* before overwriting papers it snapshots what was stored for them, and if anything raises
  while it writes (the embedder fails, Chroma refuses a write, Ctrl-C or SIGTERM arrives) it
  deletes what it wrote and puts the snapshots back before re-raising;
* a run that cannot clean up (SIGKILL, power loss) leaves papers whose chunk 0 (written last,
  holding the content hash) is old or missing; the next run finds them with
  :meth:`~vectorstore.store.PaperStore.damage` and writes them again, so re-running the same
  command converges to what an uninterrupted run would have stored;
* the one thing a re-run cannot fix is a SIGKILL that lands while Chroma itself writes its
  HNSW index files (every 1,000 vectors): they can be left torn. The writer's marker file
  makes the next open check the store in a child process and raise
  :class:`~vectorstore.store.StoreCorruptError`, which names ``paperchat ingest --rebuild``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ingest.chunking import embedding_text_chunks
from ingest.merge import merge_records
from ingest.parsers import (
    DEFAULT_MAX_LISTING_BYTES,
    ListingDefaults,
    ListingParseError,
    parse_listing,
)
from ingest.records import PaperRecord
from vectorstore.embedding import Embedder
from vectorstore.store import PaperStore, StoredChunks

#: Work per model call, in (estimated) tokens: batch size times the longest text's length.
#: Measured on 2 cores: 256-token abstract chunks embed fastest one at a time (22 chunks/s vs
#: 16 in batches of 32), 20-token titles in batches of about 12-16 (250/s), so a batch holds
#: as many texts as fit this budget rather than a fixed count. The bundled listings' 204
#: chunks, four interleaved passes each: 43.6 chunks/s at 256 tokens, 41.3 at 512, 36.9 at
#: 1,024; the 2,684 chunks of the merge (mostly titles): 246 / 243 a second at 256 / 512.
EMBED_TOKENS_PER_CALL = 256
#: Upper bound on texts per model call (very short texts).
EMBED_BATCH = 64
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
    notes: list[str] = field(default_factory=list)
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
        if self.notes:
            line += f", {len(self.notes)} notes"
        return line


@dataclass
class IngestReport:
    """The outcome of one ingest run, per file and overall."""

    files: list[FileReport]
    records: int = 0
    embedded_papers: int = 0
    embedded_chunks: int = 0
    #: Changed papers whose embedded text did not change (a new link, status or institution):
    #: written again with the vectors they had, not embedded.
    rewritten_papers: int = 0
    seconds: float = 0.0
    #: Papers found half-written by an interrupted earlier run and written again, plus
    #: papers whose orphaned chunks (no chunk 0) were removed.
    repaired: int = 0

    @property
    def ok(self) -> bool:
        """False when any file failed or had entries that could not be parsed."""
        return all(f.error is None and not f.problems for f in self.files)

    def lines(self) -> list[str]:
        out = [f.summary() for f in self.files]
        for report in self.files:
            out.extend(f"  {problem}" for problem in report.problems)
            out.extend(f"  note: {note}" for note in report.notes)
        if self.repaired:
            out.append(f"repaired {self.repaired} papers left half-written by an interrupted ingest")
        kept = f"; updated {self.rewritten_papers} more whose text was unchanged" if self.rewritten_papers else ""
        out.append(
            f"store: {self.records} papers; embedded {self.embedded_papers} papers "
            f"({self.embedded_chunks} chunks){kept} in {self.seconds:.1f}s"
        )
        return out


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly, plus the entries inside named directories (sorted, not hidden).

    Sub-directories are not entered, but every other entry is kept, including broken links,
    FIFOs and sockets: reading them fails with a message naming them, which beats a listing
    the user put there silently not being ingested.
    """
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(
                p for p in sorted(path.iterdir()) if not p.is_dir() and not p.name.startswith(".")
            )
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
    max_listing_bytes: int = DEFAULT_MAX_LISTING_BYTES,
) -> IngestReport:
    """Parse, merge and store the listings at ``paths``; see the module docstring.

    Raises :class:`~vectorstore.lock.StoreBusyError` when another process is writing the
    store; any exception raised while writing leaves the store as it was before the call.
    """
    started = time.perf_counter()
    show_progress = sys.stderr.isatty() if progress is None else progress
    with store.write_lock("paperchat ingest"):
        reports, incoming, owners = _parse_all(paths, format, defaults, max_listing_bytes)
        damage = store.damage()
        stored_hashes = store.stored_hashes()
        existing = store.records() if stored_hashes else []
        outcome = merge_records(existing, incoming)
        final = outcome.by_id()
        changed = [
            r for r in outcome.records
            if stored_hashes.get(r.id) != r.content_hash() or r.id in damage.incomplete
        ]
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

        written = embed_and_store(changed, store, embedder, show_progress, max_tokens, damage.incomplete,
                                  {r.id: r for r in existing})
        orphans = [c for c in damage.orphans if c.rpartition("#")[0] not in changed_ids]
        if orphans:  # only now: a failed run must leave even the junk as it was
            store.delete_chunks(orphans)
        if changed or orphans:
            store.compact()
            store.mark_changed()  # running pages reload when they see it
    return IngestReport(
        files=reports,
        records=len(final),
        embedded_papers=written.embedded_papers,
        embedded_chunks=written.embedded_chunks,
        rewritten_papers=written.reused_papers,
        seconds=time.perf_counter() - started,
        repaired=len(damage.incomplete) + len({c.rpartition("#")[0] for c in damage.orphans}),
    )


def _parse_all(
    paths: Sequence[str | Path], format: str | None, defaults: ListingDefaults | None,
    max_bytes: int,
) -> tuple[list[FileReport], list[PaperRecord], list[FileReport]]:
    """Parse every file; returns the reports, the records, and each record's file report."""
    reports: list[FileReport] = []
    incoming: list[PaperRecord] = []
    owners: list[FileReport] = []
    for path in expand_paths(paths):
        report = FileReport(path=str(path))
        reports.append(report)
        try:
            parsed = parse_listing(path, format=format, defaults=defaults, max_bytes=max_bytes)
        except ListingParseError as error:
            report.error = str(error)
            continue
        except Exception as error:  # a parser bug must not cost the other files
            report.error = (
                f"{path}: paperchat failed to parse this file ({type(error).__name__}: {error}); "
                "this is a bug, please report it with the file"
            )
            continue
        report.format = parsed.format
        report.parsed = len(parsed.records)
        report.problems = [str(p) for p in parsed.problems]
        report.notes = [str(n) for n in parsed.notes]
        incoming.extend(parsed.records)
        owners.extend([report] * len(parsed.records))
    return reports, incoming, owners


class _Undo:
    """What one run wrote and what it overwrote, so a failure can put the store back."""

    def __init__(self, store: PaperStore) -> None:
        self.store = store
        self.written: list[str] = []
        self.saved: list[StoredChunks] = []

    def before_writing(self, paper_ids: Sequence[str]) -> None:
        """Snapshot what is stored for these papers, unless a snapshot taken before any
        write holds them already; call before each write."""
        covered = frozenset().union(*(s.paper_ids for s in self.saved))
        missing = [pid for pid in paper_ids if pid not in covered]
        if missing:
            self.saved.append(self.store.snapshot(missing))
        self.written.extend(paper_ids)

    def rollback(self, error: BaseException) -> None:
        """Delete this run's writes and restore the snapshots; if that fails too, say so on
        ``error`` (the store is then as a killed run leaves it, and a re-run repairs it)."""
        if not self.written:
            return
        merged = StoredChunks(
            paper_ids=frozenset().union(*(s.paper_ids for s in self.saved)),
            rows=[row for s in self.saved for row in s.rows],
        )
        try:
            self.store.restore(merged, self.written)
        except Exception as undo_error:
            error.add_note(
                f"paperchat could not undo this ingest's partial writes ({undo_error}); run the "
                "same ingest again to complete them"
            )


def _token_budget_batches(order: list[int], texts: Sequence[str]) -> Iterator[list[int]]:
    """Consecutive runs of ``order`` (indices sorted by text length) whose size times the
    longest member's estimated token count stays within :data:`EMBED_TOKENS_PER_CALL`."""
    batch: list[int] = []
    for i in order:
        tokens = len(texts[i]) // 4 + 2  # about four characters a token in English prose
        if batch and (len(batch) + 1) * tokens > EMBED_TOKENS_PER_CALL or len(batch) >= EMBED_BATCH:
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


@dataclass
class WriteCounts:
    """What :func:`embed_and_store` did: papers and chunks embedded, papers given their old vectors."""

    embedded_papers: int = 0
    embedded_chunks: int = 0
    reused_papers: int = 0


def embed_and_store(
    records: Sequence[PaperRecord], store: PaperStore, embedder: Embedder, show_progress: bool, max_tokens: int,
    damaged: Iterable[str] = (), previous: Mapping[str, PaperRecord] | None = None,
) -> WriteCounts:
    """Chunk, embed and upsert records in batches.

    A stored paper whose chunks read exactly as its ``previous`` record's did (only its
    links, status, sources or institutions changed) keeps its vectors: embedding is the
    whole cost of an ingest, and the same text gives the same vectors (the store was opened
    with this embedder and chunking). Papers in ``damaged`` (half-written by an interrupted
    run) are always embedded again.

    A batch is written by one writer thread while the next one is embedded: Chroma's writes
    (SQLite, its log) leave the cores partly idle, and the model fills them (whole ingest of
    the 2,610-record merge went from 0.89 to 0.95 of the embedding floor in ``make bench``).
    Batches are still written one at a time and in order.

    All or nothing: if anything raises (including ``KeyboardInterrupt``), the write in flight
    is let finish and the batches already written are undone before the exception continues.
    """
    counts = WriteCounts()
    planned = [(r, embedding_text_chunks(r, embedder.count_tokens, max_tokens=max_tokens)) for r in records]
    planned = [(r, c) for r, c in planned if c]
    undo = _Undo(store)
    previous = previous or {}
    damaged = set(damaged)
    same_text = [
        r.id for r, chunks in planned
        if r.id in previous and r.id not in damaged
        and embedding_text_chunks(previous[r.id], embedder.count_tokens, max_tokens=max_tokens) == chunks
    ]
    before = store.snapshot(same_text) if same_text else StoredChunks(frozenset(), [])
    undo.saved.append(before)  # what those papers had: taken before any write
    reusable = _stored_vectors(before, {r.id: len(c) for r, c in planned if r.id in before.paper_ids})
    bar = tqdm(total=sum(len(c) for r, c in planned if r.id not in reusable), unit="chunk", desc="embedding",
               disable=not show_progress)
    pending: Future[None] | None = None
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="paperchat-write")
    try:
        for start in range(0, len(planned), UPSERT_BATCH):
            batch = planned[start : start + UPSERT_BATCH]
            fresh = [(r, c) for r, c in batch if r.id not in reusable]
            items = _embedded(fresh, embedder, bar)
            items += [(r, c, reusable[r.id]) for r, c in batch if r.id in reusable]
            if pending is not None:
                pending.result()  # a failed write stops the run before the next one starts
            pending = writer.submit(_write_batch, store, undo, items)
            counts.embedded_papers += len(fresh)
            counts.embedded_chunks += sum(len(chunks) for _, chunks in fresh)
            counts.reused_papers += len(batch) - len(fresh)
        if pending is not None:
            pending.result()
    except BaseException as error:
        if pending is not None:
            wait([pending])
        undo.rollback(error)
        raise
    finally:
        writer.shutdown(wait=True)
        bar.close()
    return counts


def _stored_vectors(stored: StoredChunks, chunk_counts: Mapping[str, int]) -> dict[str, np.ndarray]:
    """Each paper's stored vectors, chunk 0 first, when exactly ``chunk_counts[id]`` are stored."""
    by_chunk = {chunk_id: vector for chunk_id, _, _, vector in stored.rows}
    reusable: dict[str, np.ndarray] = {}
    for paper_id, count in chunk_counts.items():
        vectors = [by_chunk.get(f"{paper_id}#{i}") for i in range(count)]
        if f"{paper_id}#{count}" not in by_chunk and all(v is not None for v in vectors):
            reusable[paper_id] = np.stack(vectors)
    return reusable


def _embedded(
    batch: Sequence[tuple[PaperRecord, list[str]]], embedder: Embedder, bar: tqdm
) -> list[tuple[PaperRecord, list[str], np.ndarray]]:
    """The batch's papers with a vector for each of their chunks."""
    texts = [text for _, chunks in batch for text in chunks]
    # Model calls take texts of similar length across the whole batch, so a short
    # title-only chunk is never padded to a 256-token abstract's length.
    by_length = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    matrix = np.empty((len(texts), embedder.dimension), dtype=np.float32)
    for rows in _token_budget_batches(by_length, texts):
        matrix[rows] = embedder.embed([texts[i] for i in rows])
        bar.update(len(rows))
    items, row = [], 0
    for record, chunks in batch:
        items.append((record, chunks, matrix[row : row + len(chunks)]))
        row += len(chunks)
    return items


def _write_batch(store: PaperStore, undo: _Undo, items: list[tuple[PaperRecord, list[str], np.ndarray]]) -> None:
    """Snapshot what these papers had, then write them (runs on the writer thread)."""
    undo.before_writing([record.id for record, _, _ in items])
    store.upsert_papers(items)
