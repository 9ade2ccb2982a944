"""Crashes and the store: a failed ingest changes nothing, a killed one is finished by the
next run, one process writes at a time, and old or damaged stores say what to do.

"Failed" means an exception escapes the ingest while it writes: the embedder raises, Chroma
refuses a write, Ctrl-C or SIGTERM arrives. Then the store must be exactly as before (ids,
texts, metadata, vectors). A SIGKILL cannot be cleaned up after; then re-running the same
command must end with exactly what an uninterrupted run stores.

What SIGKILL does to Chroma 1.5 itself: a write is durable once ``upsert`` returns (SQLite),
and a kill between paperchat's writes is repaired by the next run. But every 1,000 vectors
Chroma rewrites its HNSW files in place, and a kill during that rewrite can leave them torn:
the next search then fails ("Failed to apply logs to the hnsw segment writer") or crashes
the process with SIGSEGV. In a write-heavy loop about 1 kill in 13 did this. It cannot be
repaired from the store, so it is detected (in a child process, after a killed writer) and
reported with the rebuild command, which these tests run.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ingest.pipeline as pipeline
from app import PaperChat
from ingest.chunking import CHUNKING_VERSION
from ingest.parsers import parse_listing
from ingest.pipeline import ingest_paths
from ingest.records import PaperRecord, normalize_text
from vectorstore.embedding import Embedder, make_embedder
from vectorstore.lock import (
    LOCK_NAME,
    MARKER_NAME,
    LockHolder,
    StoreBusyError,
    StoreLock,
    StoreReadDuringWriteError,
)
from vectorstore.store import (
    PaperStore,
    StoreCorruptError,
    StoreIdentity,
    StoreMismatchError,
    StoreMissingError,
)

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
LISTINGS = REPO / "data" / "listings"
VIRTUAL = LISTINGS / "001_49cbb665570d8f3c.txt"

# ------------------------------------------------------------------------------ helpers


class EmbedderFailingAfter:
    """The real embedder, scripted to raise ``error`` on every call after the first
    ``calls`` ones: an embedding server that dies, or a Ctrl-C, in the middle of an ingest."""

    def __init__(self, inner: Embedder, calls: int, error: BaseException | None = None) -> None:
        self.inner = inner
        self.calls_left = calls
        self.error = error or RuntimeError("scripted embedder failure")
        self.name, self.dimension, self.max_tokens = inner.name, inner.dimension, inner.max_tokens

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self.calls_left <= 0:
            raise self.error
        self.calls_left -= 1
        return self.inner.embed(texts)


def identity_of(embedder: Embedder) -> StoreIdentity:
    return StoreIdentity(embedder.name, embedder.dimension, CHUNKING_VERSION)


class StoreState:
    """Everything a store holds, comparable: chunk id -> (text, metadata), and the vectors.

    Vectors compare within 1e-6: Chroma normalises what it stores for cosine space, so a
    vector read back and written again can move in its last bits. Everything else is exact.
    """

    def __init__(self, store: PaperStore) -> None:
        rows = store.all_chunks().rows
        self.rows = {cid: (text, json.dumps(meta, sort_keys=True)) for cid, text, meta, _ in rows}
        self.vectors = {cid: vector for cid, _, _, vector in rows}
        self.count = store.count_chunks()

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, StoreState)
            and self.rows == other.rows
            and self.count == other.count
            and all(np.allclose(v, other.vectors[k], atol=1e-6) for k, v in self.vectors.items())
        )

    def __repr__(self) -> str:
        return f"StoreState({self.count} chunks: {sorted(self.rows)[:4]}...)"


def state(store: PaperStore) -> StoreState:
    return StoreState(store)


def jsonl(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items), encoding="utf-8")
    return path


def generated_listing(n: int, seed: int, longer: set[int] = frozenset(), extra: int = 0) -> list[dict]:
    """``n`` papers built from the bundled abstracts, shuffled (2-6 abstracts each, so most
    papers have several chunks). ``longer`` papers get one more abstract appended (an update
    the merge keeps, since it keeps the longer abstract); ``extra`` new papers follow."""
    abstracts = [r.abstract for r in parse_listing(VIRTUAL).records if r.abstract]
    authors = sorted({a for r in parse_listing(VIRTUAL).records for a in r.authors})
    rng = random.Random(seed)
    items = []
    for i in range(n + extra):
        abstract = " ".join(rng.sample(abstracts, rng.randint(2, 6)))
        words = rng.sample(abstract.split(), 4)
        item = {
            "title": f"Synthetic study {i}: {' '.join(words)}",
            "authors": [f"{a} Synth{i}" for a in rng.sample(authors, 3)],
            "abstract": abstract, "venue": "TEST", "year": 2025,
        }
        if i in longer:  # from its own generator, so the other papers stay the same
            item["abstract"] += " " + random.Random(seed * 100_003 + i).choice(abstracts)
        items.append(item)
    return items


def clean_listing(path: Path) -> Path:
    """A small listing without a single bad entry (ingest exits 0 on it)."""
    return jsonl(path, [
        {"title": f"Clean Paper {i}", "authors": [f"Author Clean{i}"], "abstract": f"Result {i}."}
        for i in range(3)
    ])


@pytest.fixture(scope="module")
def minilm() -> Embedder:
    return make_embedder("minilm-l6-int8")


@pytest.fixture(scope="module")
def hashing() -> Embedder:
    return make_embedder("hashing-384")


# --------------------------------------------------------------- a failed ingest changes nothing


@pytest.fixture
def small_store(tmp_path: Path, minilm: Embedder) -> Iterator[tuple[PaperStore, list[Path]]]:
    """A store holding two small listings, and an update: one paper grows from one chunk to
    several, two gain a source, and four papers are new."""
    store = PaperStore.open(tmp_path / "store", identity_of(minilm))
    ingest_paths([FIXTURES / "tiny_paperscool.txt", FIXTURES / "tiny.jsonl"], store, minilm, progress=False)
    long_abstract = " ".join(f"Finding number {i} about descent is notable." for i in range(60))
    update = jsonl(tmp_path / "update.jsonl", [
        {"title": "Fast & Slow Gradient Descent", "authors": ["Ada Lovelace"], "abstract": long_abstract},
        {"title": "JSONL Paper One", "authors": ["Ada Lovelace"], "abstract": "One, again."},
        {"title": "A Paper Numbered Three", "authors": ["Someone Else"]},
        *({"title": f"Brand New Paper {i}", "authors": [f"New Author{i}"],
           "abstract": f"Fresh result {i}."} for i in range(4)),
    ])  # fmt: skip
    try:
        yield store, [update]
    finally:
        store.close()


def test_every_embedder_failure_point_leaves_the_store_exactly_as_before(
    small_store, minilm: Embedder, monkeypatch: pytest.MonkeyPatch, hardening
) -> None:
    """Fail at every embedding call of an update that writes paper by paper: each time the
    store keeps its ids, texts, metadata and vectors; then the same update succeeds."""
    store, update = small_store
    monkeypatch.setattr(pipeline, "UPSERT_BATCH", 1)  # a write after every paper
    monkeypatch.setattr(pipeline, "EMBED_BATCH", 1)  # a call per chunk: many failure points
    writes: list[int] = []
    real_upsert = PaperStore.upsert_papers
    monkeypatch.setattr(PaperStore, "upsert_papers",
                        lambda self, items: (writes.append(1), real_upsert(self, items))[1])  # fmt: skip
    before = state(store)

    for calls in range(0, 500):  # fail after 0, 1, 2, ... calls until the update gets through
        writes.clear()
        try:
            report = ingest_paths(update, store, EmbedderFailingAfter(minilm, calls), progress=False)
        except RuntimeError as error:
            assert "scripted embedder failure" in str(error)
            assert state(store) == before, f"failing after {calls} embedding calls changed the store"
            continue
        break
    assert calls >= 8, "the update should take many embedding calls"
    assert len(writes) >= 7, "each paper is its own write"
    # the paper that only gained a source is written with its stored vectors, not embedded
    assert (report.embedded_papers, report.rewritten_papers, report.records) == (6, 1, 10)
    titles = {r.title for r in store.records()}
    assert {f"Brand New Paper {i}" for i in range(4)} <= titles
    assert not store.damage()
    hardening.record("crash", f"embedder fails after each of 0..{calls - 1} embedding calls of an update",
                     f"{calls} failed runs each left the store exactly as before; the next run completed", lost=0)


def test_a_write_error_midway_rolls_back(small_store, minilm: Embedder,
                                         monkeypatch: pytest.MonkeyPatch, hardening) -> None:  # fmt: skip
    """Chroma fails (disk full) in the middle of the second write, after part of it landed."""
    store, update = small_store
    monkeypatch.setattr(pipeline, "UPSERT_BATCH", 2)
    before = state(store)
    real_upsert = PaperStore.upsert_papers
    calls = []

    def failing_upsert(self: PaperStore, items) -> None:
        calls.append(1)
        items = list(items)
        if len(calls) == 2:
            real_upsert(self, items[:1])  # half of this write reached the store
            raise OSError(28, "No space left on device")
        real_upsert(self, items)

    monkeypatch.setattr(PaperStore, "upsert_papers", failing_upsert)
    with pytest.raises(OSError, match="No space left"):
        ingest_paths(update, store, minilm, progress=False)
    assert state(store) == before
    hardening.record("crash", "disk full in the middle of a write", "OSError raised; half-landed write undone", lost=0)


def test_ctrl_c_rolls_back_and_still_interrupts(small_store, minilm: Embedder,
                                                monkeypatch: pytest.MonkeyPatch, hardening) -> None:  # fmt: skip
    store, update = small_store
    monkeypatch.setattr(pipeline, "UPSERT_BATCH", 1)
    before = state(store)
    with pytest.raises(KeyboardInterrupt):
        ingest_paths(update, store, EmbedderFailingAfter(minilm, 3, KeyboardInterrupt()), progress=False)
    assert state(store) == before
    hardening.record("crash", "Ctrl-C during an ingest", "interrupted; store exactly as before", lost=0)


def test_when_undo_itself_fails_the_error_says_to_rerun(small_store, minilm: Embedder,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    store, update = small_store
    monkeypatch.setattr(pipeline, "UPSERT_BATCH", 1)
    monkeypatch.setattr(PaperStore, "restore", lambda *a, **k: (_ for _ in ()).throw(OSError("gone")))
    with pytest.raises(RuntimeError) as caught:
        ingest_paths(update, store, EmbedderFailingAfter(minilm, 3), progress=False)
    assert any("run the same ingest again" in note for note in caught.value.__notes__)


# ------------------------------------------------------- a killed write is finished by the next run


def _kill_inside_upsert(store: PaperStore, records: list[PaperRecord], embedder: Embedder,
                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Write ``records`` the way the pipeline does, but stop dead when every chunk but the
    chunk 0s has reached Chroma, without any cleanup: what SIGKILL inside a write leaves."""
    from ingest.chunking import embedding_text_chunks

    written = []
    real = PaperStore._write_rows

    def dying(self: PaperStore, rows) -> None:
        for row in rows:
            if row[2]["chunk"] == 0:
                raise SystemExit("killed")
            real(self, [row])
            written.append(row[0])

    monkeypatch.setattr(PaperStore, "_write_rows", dying)
    items = []
    for record in records:
        chunks = embedding_text_chunks(record, embedder.count_tokens, max_tokens=embedder.max_tokens)
        items.append((record, chunks, embedder.embed(chunks)))
    with pytest.raises(SystemExit):
        store.upsert_papers(items)
    monkeypatch.setattr(PaperStore, "_write_rows", real)


def test_half_written_papers_are_found_and_rewritten(tmp_path: Path, hashing: Embedder,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A kill between chunk writes leaves an updated paper with new chunks under an old
    chunk 0, and a new paper with chunks but no chunk 0. The next ingest (of anything)
    repairs both, and queries never return a chunk whose paper has no record."""
    v1 = jsonl(tmp_path / "v1.jsonl", generated_listing(6, seed=1))
    v2_items = generated_listing(6, seed=1, longer={0, 1}, extra=2)
    v2 = jsonl(tmp_path / "v1b.jsonl", v2_items)
    reference = PaperStore.open(tmp_path / "reference", identity_of(hashing))
    ingest_paths([v1], reference, hashing, progress=False)
    ingest_paths([v2], reference, hashing, progress=False)

    store = PaperStore.open(tmp_path / "store", identity_of(hashing))
    ingest_paths([v1], store, hashing, progress=False)
    # What the v2 ingest would write: merged records (ids kept) for papers 0, 1 and the 2 new.
    from ingest.merge import merge_records

    outcome = merge_records(store.records(), parse_listing(v2).records)
    changed = [r for r in outcome.records if store.stored_hashes().get(r.id) != r.content_hash()]
    _kill_inside_upsert(store, changed, hashing, monkeypatch)
    damage = store.damage()
    assert damage.incomplete and damage.orphans, "the kill should leave both kinds of damage"
    known = {r.id for r in store.records()}
    hits = store.query(hashing.embed([v2_items[7]["abstract"]])[0], 50)
    assert any(h.paper_id not in known for h in hits), "orphans are retrievable before repair"

    report = ingest_paths([v1], store, hashing, progress=False)  # the old file: repair anyway
    assert report.repaired == len(damage.incomplete) + len({c.rpartition("#")[0] for c in damage.orphans})
    assert "repaired" in "\n".join(report.lines())
    assert not store.damage()
    known = {r.id for r in store.records()}
    assert all(h.paper_id in known for h in store.query(hashing.embed([v2_items[7]["abstract"]])[0], 50))
    ingest_paths([v2], store, hashing, progress=False)
    assert_same_store(store, reference)
    store.close()
    reference.close()


# ------------------------------------------------------------------------------ store equality


def assert_consistent(store: PaperStore) -> None:
    """``count``, ``get`` and ``query`` agree: every paper's chunks 0..n-1 are all there, no
    duplicates, and a query returns only chunks that ``get`` returns."""
    chunks = store.all_chunks()
    ids = [row[0] for row in chunks.rows]
    assert len(ids) == len(set(ids)) == store.count_chunks()
    by_paper: dict[str, set[int]] = {}
    for _, _, meta, _ in chunks.rows:
        by_paper.setdefault(meta["paper_id"], set()).add(meta["chunk"])
    heads = {row[2]["paper_id"]: row[2]["n_chunks"] for row in chunks.rows if row[2]["chunk"] == 0}
    assert set(heads) == set(by_paper), "chunks without a chunk 0"
    for paper_id, numbers in by_paper.items():
        assert numbers == set(range(heads[paper_id])), paper_id
    records = store.records()
    assert len(records) == store.count_papers() == len(heads)
    titles = [normalize_text(r.title) for r in records if r.title]
    assert len(titles) == len(set(titles)), "the same title stored twice"
    assert not store.damage()
    rng = np.random.default_rng(0)
    existing = set(ids)
    for vector in rng.normal(size=(5, store.identity.dimension)):
        for hit in store.query(vector, 25):
            assert f"{hit.paper_id}#{hit.chunk}" in existing


#: How many neighbours the second, wider search for a chunk's own vector asks for.
WIDE_SEARCH = 200


def assert_same_store(store: PaperStore, reference: PaperStore) -> None:
    """The same records, chunks, vectors and search results as the reference store."""
    assert_consistent(store)
    mine = {r.id: (r.title, r.content_hash()) for r in store.records()}
    theirs = {r.id: (r.title, r.content_hash()) for r in reference.records()}
    assert mine == theirs
    assert store.count_chunks() == reference.count_chunks()
    rows = {row[0]: row for row in store.all_chunks().rows}
    for chunk_id, text, meta, vector in reference.all_chunks().rows:
        assert rows[chunk_id][1] == text and rows[chunk_id][2] == meta, chunk_id
        assert np.allclose(rows[chunk_id][3], vector, atol=1e-4), chunk_id
    # Search finds every chunk of the reference in this store: its own vector retrieves it
    # (or a chunk with the same vector) first. Comparing two approximate HNSW indexes on
    # random vectors instead would compare their near-ties and tombstones, not our writes.
    # The index is approximate, and a graph that re-runs rewrote in place differs from the
    # reference's, so a chunk the nearest-one search misses must be found by a wider one
    # (ef 200 instead of 128); a vector missing from the index fails both.
    wide = min(store.count_chunks(), WIDE_SEARCH)
    for chunk_id, _, _, vector in reference.all_chunks().rows:
        nearest = store.query(vector, 1)
        if not (nearest and nearest[0].similarity > 0.999):
            nearest = store.query(vector, wide)
        assert nearest and nearest[0].similarity > 0.999, f"{chunk_id} is not found by its own vector"


# ------------------------------------------------------------------------------ SIGKILL, for real


def _cli(args: Sequence[str | Path], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "ingest", *map(str, args), "--no-progress"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _wait_for_lock(process: subprocess.Popen[str], data_dir: Path, timeout: float = 120) -> bool:
    """Wait until ``process`` holds the store lock (it has started the ingest proper)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        holder = StoreLock(data_dir).holder()
        if holder is not None and holder.pid == process.pid:
            return True
        time.sleep(0.01)
    raise AssertionError("the ingest never took the store lock")


def _complete(args: Sequence[str | Path], data_dir: Path, env: dict[str, str]) -> float:
    """Run the ingest to the end; returns the seconds it worked after taking the lock."""
    process = _cli([*args, "--data-dir", data_dir], env)
    assert _wait_for_lock(process, data_dir)
    started = time.monotonic()
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, f"exit {process.returncode}\n{out}\n{err}"
    assert "Traceback" not in err
    return time.monotonic() - started


def _open(data_dir: Path, embedder: Embedder) -> PaperStore:
    return PaperStore.open(data_dir, identity_of(embedder), create=False)


def _after_kill(data_dir: Path, embedder: Embedder) -> tuple[str, PaperStore | None]:
    """What a killed run left, as a reader sees it: a one-line summary, and the opened store
    (None if there is none yet); a store Chroma cannot read is summarised as CORRUPT."""
    try:
        store = _open(data_dir, embedder)
    except StoreMissingError:
        return "no collection yet", None
    except StoreCorruptError as error:
        return f"CORRUPT: {error}", None
    damage = store.damage()
    summary = (f"{store.count_papers()} papers/{store.count_chunks()} chunks, "
               f"{len(damage.incomplete)} half-written, {len(damage.orphans)} orphan chunks")  # fmt: skip
    return summary, store


def _kill_until(args: Sequence[str | Path], data_dir: Path, reset: Callable[[], None], env: dict[str, str],
                work: float, reference: PaperStore, embedder: Embedder, rng: random.Random, kills: int,
                seen: list[str], rebuild_args: Sequence[str | Path] | None = None) -> int:  # fmt: skip
    """SIGKILL the ingest at random moments of its work until ``kills`` runs died, then run
    it to the end and compare with ``reference``. Runs repeat on the store the previous
    kill left (so damage accumulates); when a run got to the end anyway, the store is
    compared with the reference right there and ``reset`` for the next kill. A kill that
    tore Chroma's index files must be reported as such (never a crash), and then
    ``ingest --rebuild rebuild_args`` must give the reference store back. Returns runs."""
    rebuild_args = rebuild_args or args
    reset()
    killed = runs = 0
    wanted = reference.stored_hashes()
    # One kill moment in each of ``kills`` equal slices of the work, in random order: moments
    # drawn freely over the whole work can all miss the short stretches in which it writes.
    slices = list(range(kills))
    rng.shuffle(slices)
    while killed < kills:
        runs += 1
        assert runs < 4 * kills, f"only {killed} of {runs} runs could be killed mid-way"
        process = _cli([*args, "--data-dir", data_dir], env)
        if not _wait_for_lock(process, data_dir):
            out, err = process.communicate()
            raise AssertionError(f"ingest ended before taking the lock\n{out}\n{err}")
        delay = (slices[(runs - 1) % kills] + rng.random()) * work / kills
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        out, err = process.communicate(timeout=60)
        if process.returncode == -signal.SIGKILL:
            killed += 1
        else:
            assert process.returncode == 0, f"{out}\n{err}"
        summary, store = _after_kill(data_dir, embedder)
        seen.append(f"run {runs} killed={process.returncode == -signal.SIGKILL} after {delay:.2f}s: {summary}")
        if summary.startswith("CORRUPT"):  # the documented remedy must restore everything
            _complete(["--rebuild", *rebuild_args], data_dir, env)
            with _open(data_dir, embedder) as rebuilt:
                assert_same_store(rebuilt, reference)
            reset()
        elif store is not None:
            with store:
                done = store.stored_hashes() == wanted and not store.damage()
                if done:
                    assert_same_store(store, reference)
            if done:
                reset()
    _complete(args, data_dir, env)
    with _open(data_dir, embedder) as store:
        assert_same_store(store, reference)
    return runs


def _fresh(data_dir: Path, template: Path | None = None) -> Callable[[], None]:
    """A reset: empty the store directory, or make it a copy of ``template``."""
    def reset() -> None:
        shutil.rmtree(data_dir, ignore_errors=True)
        if template is not None:
            shutil.copytree(template, data_dir)

    return reset


@pytest.mark.slow
def test_sigkill_at_random_points_then_rerun_equals_an_uninterrupted_ingest(
    tmp_path: Path, cli_env: dict[str, str], hashing: Embedder, hardening
) -> None:
    """Real `paperchat ingest` processes (the bundled listings plus 300 generated papers,
    about 1,200 chunks: past the 1,000 vectors at which Chroma first writes its HNSW files)
    SIGKILLed at 24 random moments, each re-run on what the last one left, then completed:
    the store always equals one built without interruption. Half of the kills hit an update
    of the generated file (longer abstracts, new papers) on top of a complete store."""
    env = {**cli_env, "PAPERCHAT_EMBEDDER": "hashing-384"}
    gen = tmp_path / "generated.jsonl"
    v1 = generated_listing(300, seed=7)
    v2 = generated_listing(300, seed=7, longer=set(range(0, 300, 3)), extra=40)
    first = [LISTINGS, gen]
    jsonl(gen, v1)
    work_first = _complete(first, tmp_path / "reference-first", env)
    shutil.copytree(tmp_path / "reference-first", tmp_path / "reference-update")
    jsonl(gen, v2)
    work_update = _complete([gen], tmp_path / "reference-update", env)

    rng = random.Random(int(os.environ.get("PAPERCHAT_CRASH_SEED", "20240611")))
    seen: list[str] = []
    with _open(tmp_path / "reference-first", hashing) as reference:
        jsonl(gen, v1)
        _kill_until(first, tmp_path / "first", _fresh(tmp_path / "first"), env, work_first,
                    reference, hashing, rng, kills=12, seen=seen)  # fmt: skip
    with _open(tmp_path / "reference-update", hashing) as reference:
        jsonl(gen, v2)
        reset = _fresh(tmp_path / "update", template=tmp_path / "reference-first")
        _kill_until([gen], tmp_path / "update", reset, env, work_update, reference, hashing, rng,
                    kills=12, seen=seen, rebuild_args=first)  # fmt: skip
    print("\n".join(["", *seen]))  # what each kill left (shown with -s)
    states = {line.split(": ", 1)[1] for line in seen if "killed=True" in line}
    record_kills(hardening, "bundled + 300 generated papers", seen)
    assert len(states) >= 4, f"the kills should land at several points: {seen}"


def record_kills(hardening: Any, corpus: str, seen: list[str]) -> None:
    """One hardening-table row per SIGKILLed run; each ended equal to the reference store."""
    for line in seen:
        if "killed=True" in line:
            run, _, left = line.partition(": ")
            hardening.record("crash", f"SIGKILL `paperchat ingest` ({corpus}), {run.replace(' killed=True', '')}",
                             f"left {left}; re-run gave the uninterrupted store", lost=0)  # fmt: skip


@pytest.mark.slow
def test_sigkill_with_the_real_model_then_rerun_equals_the_bundled_store(
    tmp_path: Path, cli_env: dict[str, str], bundled_store: Path, minilm: Embedder, hardening
) -> None:
    """The packaged MiniLM model and the bundled listings: killed twice mid-embedding, then
    completed; the result equals the session's uninterrupted bundled store."""
    args = [LISTINGS, "--venue", "ICML", "--year", "2024"]
    data_dir = tmp_path / "store"
    seen: list[str] = []
    with _open(bundled_store, minilm) as reference:
        _kill_until(args, data_dir, _fresh(data_dir), cli_env, 20.0, reference, minilm,
                    random.Random(7), kills=2, seen=seen)  # fmt: skip
    print("\n".join(["", *seen]))
    record_kills(hardening, "bundled listings, MiniLM", seen)


@pytest.mark.slow
def test_sigterm_rolls_back_and_exits_130(tmp_path: Path, cli_env: dict[str, str],
                                          hashing: Embedder, hardening) -> None:  # fmt: skip
    env = {**cli_env, "PAPERCHAT_EMBEDDER": "hashing-384"}
    data_dir = tmp_path / "store"
    _complete([clean_listing(tmp_path / "clean.jsonl")], data_dir, env)
    with _open(data_dir, hashing) as store:
        before = state(store)
    gen = jsonl(tmp_path / "gen.jsonl", generated_listing(300, seed=3))
    process = _cli([gen, "--data-dir", data_dir], env)
    assert _wait_for_lock(process, data_dir)
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, (out, err)
    assert "interrupted" in err and "Traceback" not in err
    with _open(data_dir, hashing) as store:
        assert state(store) == before
    hardening.record("crash", "SIGTERM during an ingest", "exit 130, 'interrupted'; store exactly as before", lost=0)


# ------------------------------------------------------------------------------ one writer


def _hold_lock(data_dir: Path) -> subprocess.Popen[str]:
    """Another process that takes the store's write lock (as ingest does) and keeps it."""
    code = (
        "import sys, time\n"
        "from vectorstore.lock import write_lock\n"
        f"with write_lock({str(data_dir)!r}, 'paperchat ingest'):\n"
        "    print('locked', flush=True)\n"
        "    time.sleep(600)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "locked"
    return process


def test_a_second_writer_is_told_who_holds_the_store_and_a_killed_holder_blocks_nothing(
    tmp_path: Path, run_cli, cli_env: dict[str, str], hashing: Embedder, hardening
) -> None:
    data_dir = tmp_path / "store"
    holder = _hold_lock(data_dir)
    try:
        with pytest.raises(StoreBusyError) as caught:
            PaperChat(data_dir=data_dir, embedder="hashing-384").ingest([FIXTURES / "tiny.jsonl"], progress=False)
        message = str(caught.value)
        assert f"store {data_dir} in use by PID {holder.pid} (paperchat ingest started at " in message
        assert "wait for it, or use a Chroma server (PAPERCHAT_CHROMA_URL) to share a store" in message

        env = {**cli_env, "PAPERCHAT_EMBEDDER": "hashing-384"}
        result = run_cli("ingest", FIXTURES / "tiny.jsonl", "--data-dir", data_dir, env=env)
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [f"paperchat: error: {message}"]
    finally:
        holder.send_signal(signal.SIGKILL)  # dies holding the lock
        holder.wait()
    assert json.loads((data_dir / LOCK_NAME).read_text())["pid"] == holder.pid  # stale file
    report = PaperChat(data_dir=data_dir, embedder="hashing-384").ingest([FIXTURES / "tiny.jsonl"], progress=False)
    assert report.records == 3
    hardening.record("crash", "a second writer on one store directory, then its holder SIGKILLed",
                     "one line 'store ... in use by PID ...'; after the kill the next ingest runs", lost=0)


def test_a_read_failing_while_another_process_writes_says_so_not_that_the_store_is_damaged(
    tmp_path: Path,
) -> None:
    """Chroma's "Error finding id" means damage when nobody writes; during another process's
    write it is the reader seeing files change, and the advice must not be to rebuild."""
    from chromadb.errors import InternalError

    from vectorstore.store import _guard

    data_dir = tmp_path / "store"
    holder = _hold_lock(data_dir)
    try:
        with pytest.raises(StoreReadDuringWriteError) as caught, _guard(None, str(data_dir)):
            raise InternalError("Error executing plan: Internal error: Error finding id")
        message = str(caught.value)
        assert f"while PID {holder.pid} writes it" in message and "PAPERCHAT_CHROMA_URL" in message
        assert "rebuild" not in message
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with pytest.raises(StoreCorruptError, match="--rebuild"), _guard(None, str(data_dir)):
        raise InternalError("Error executing plan: Internal error: Error finding id")


def test_the_lock_is_reentrant_in_one_process_and_released_after(tmp_path: Path) -> None:
    """``ingest --rebuild`` holds the lock around drop and ingest; the pipeline takes it again."""
    pc = PaperChat(data_dir=tmp_path / "store", embedder="hashing-384")
    pc.ingest([FIXTURES / "tiny.jsonl"], progress=False)
    pc.ingest([FIXTURES / "tiny.csv"], progress=False, rebuild=True)
    assert not (tmp_path / "store" / MARKER_NAME).exists()  # a finished write leaves no marker
    lock = StoreLock(tmp_path / "store")
    lock.acquire()  # free again once ingest returned
    lock.release()
    holder = LockHolder.parse((tmp_path / "store" / LOCK_NAME).read_text())
    assert holder is not None and holder.pid == os.getpid()


@pytest.mark.slow
def test_opening_a_store_another_process_is_writing_says_who_and_to_use_a_server(
    tmp_path: Path, cli_env: dict[str, str], hashing: Embedder, hardening
) -> None:
    """Chroma's embedded mode is one process's: a search that opens the store during another
    process's ingest is told who writes and to wait or use a Chroma server (never a damaged
    store, never a paper that is not stored), and after the ingest the store is whole."""
    env = {**cli_env, "PAPERCHAT_EMBEDDER": "hashing-384"}
    data_dir = tmp_path / "store"
    _complete([LISTINGS, "--venue", "ICML", "--year", "2024"], data_dir, env)
    gen = jsonl(tmp_path / "gen.jsonl", generated_listing(300, seed=5))
    process = _cli([gen, "--data-dir", data_dir], env)
    assert _wait_for_lock(process, data_dir)
    busy, seen = [], []
    while process.poll() is None:
        pc = PaperChat(data_dir=data_dir, embedder="hashing-384")
        try:
            papers = pc.search("graph neural networks for molecules", k=5)
        except StoreBusyError as error:
            busy.append(str(error))
            time.sleep(0.05)
            continue
        known = {r.id for r in pc.store().records()}
        assert papers and all(p.id in known for p in papers)
        seen.append(len(known))
        pc.store().close()
    assert process.returncode == 0, process.communicate()
    assert busy, "no search overlapped the ingest"
    for message in busy:
        assert f"in use by PID {process.pid} (paperchat ingest started at " in message, message
        assert "use a Chroma server (PAPERCHAT_CHROMA_URL)" in message
    assert min(seen, default=144) >= 144
    papers = PaperChat(data_dir=data_dir, embedder="hashing-384").search("graph neural networks for molecules", k=5)
    assert papers
    with _open(data_dir, hashing) as store:
        assert store.count_papers() == 444
        assert_consistent(store)
    hardening.record("concurrency", "searching a store directory while another process ingests into it",
                     f"{len(busy)} searches told 'in use by PID ... use a Chroma server', none failed otherwise; "
                     "afterwards 444 papers, count/get/query agree", lost=0)  # fmt: skip


# ------------------------------------------------------------------------------ old and damaged


def _store_dir_with(tmp_path: Path, metadata: dict | None, hashing: Embedder) -> Path:
    """A Chroma directory whose collection has paperchat-shaped chunks and this metadata."""
    import chromadb
    from chromadb.config import Settings

    data_dir = tmp_path / "old"
    client = chromadb.PersistentClient(path=str(data_dir / "chroma"), settings=Settings(anonymized_telemetry=False))
    col = client.create_collection("papers", metadata=metadata, embedding_function=None,
                                   configuration={"hnsw": {"space": "cosine"}})  # fmt: skip
    col.add(ids=["p_1#0"], embeddings=hashing.embed(["old paper"]),
            metadatas=[{"paper_id": "p_1", "chunk": 0, "n_chunks": 1, "title": "Old"}])  # fmt: skip
    client.close() if hasattr(client, "close") else None
    return data_dir


def _identity_metadata(schema: int) -> dict:
    return {"paperchat_embedder": "hashing-384", "paperchat_dimension": 384,
            "paperchat_chunking": CHUNKING_VERSION, "paperchat_schema": schema}  # fmt: skip


def _store_past_first_index_flush(data_dir: Path, hashing: Embedder) -> Path:
    """A store of 1,100 one-chunk papers: past 1,000 vectors, Chroma has written HNSW files."""
    rng = np.random.default_rng(0)
    with PaperStore.open(data_dir, identity_of(hashing)) as store:
        vectors = rng.normal(size=(1100, 384)).astype(np.float32)
        store.upsert_papers((PaperRecord(title=f"Paper {i}", id=f"p_{i}"), [f"text {i}"], vectors[i : i + 1])
                            for i in range(1100))  # fmt: skip
    return data_dir


def _damaged_pickle(tmp_path: Path, hashing: Embedder) -> Path:
    """A torn write of Chroma's index: a truncated ``index_metadata.pickle``."""
    data_dir = _store_past_first_index_flush(tmp_path / "store", hashing)
    [pickle] = list((data_dir / "chroma").glob("*/index_metadata.pickle"))
    os.truncate(pickle, 50)
    return data_dir


def _torn_by_killed_writer(tmp_path: Path, hashing: Embedder) -> Path:
    """What SIGKILL in the middle of Chroma writing its HNSW files can leave: garbage in the
    graph (on which Chroma's native code usually crashes with SIGSEGV, else raises), and the
    killed writer's marker."""
    data_dir = _store_past_first_index_flush(tmp_path / "store", hashing)
    writer = _hold_lock(data_dir)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert (data_dir / MARKER_NAME).exists()
    [data] = list((data_dir / "chroma").glob("*/data_level0.bin"))
    with data.open("r+b") as handle:
        handle.write(random.Random(1).randbytes(200_000))
    return data_dir


BROKEN_STORES: dict[str, tuple[Callable[[Path, Embedder], Path], type[Exception], list[str]]] = {
    "no identity (older paperchat)": (
        lambda tmp, h: _store_dir_with(tmp, None, h), StoreMismatchError,
        ["built with an older paperchat that did not record its embedder"]),
    "schema 0 (older paperchat)": (
        lambda tmp, h: _store_dir_with(tmp, _identity_metadata(0), h), StoreMismatchError,
        ["built with an older paperchat (store schema 0)"]),
    "schema 2 (newer paperchat)": (
        lambda tmp, h: _store_dir_with(tmp, _identity_metadata(2), h), StoreMismatchError,
        ["built with a newer paperchat (store schema 2)", "use the newer paperchat that built it"]),
    "truncated HNSW pickle": (_damaged_pickle, StoreCorruptError, ["is damaged"]),
    "HNSW torn by a killed writer (SIGSEGV or error)": (
        _torn_by_killed_writer, StoreCorruptError, ["is damaged", "killed mid-write"]),
}  # fmt: skip


@pytest.mark.parametrize("kind", list(BROKEN_STORES))
def test_an_old_or_damaged_store_says_exactly_what_to_do(tmp_path: Path, hashing: Embedder,
                                                         kind: str, hardening) -> None:  # fmt: skip
    build, error, says = BROKEN_STORES[kind]
    data_dir = build(tmp_path, hashing)
    with pytest.raises(error) as caught:
        PaperStore.open(data_dir, identity_of(hashing), create=False)
    message = str(caught.value)
    assert message.startswith(f"The store at {data_dir} ")
    assert all(text in message for text in says), message
    assert "`paperchat ingest --rebuild PATH...`" in message
    hardening.record("crash", f"opening a store: {kind}", f"{error.__name__} naming `paperchat ingest --rebuild`", lost=0)


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(BROKEN_STORES))
def test_the_cli_says_it_in_one_line_and_the_rebuild_it_names_works(
    tmp_path: Path, run_cli, cli_env: dict[str, str], hashing: Embedder, kind: str
) -> None:
    data_dir = BROKEN_STORES[kind][0](tmp_path, hashing)
    env = {**cli_env, "PAPERCHAT_EMBEDDER": "hashing-384"}
    result = run_cli("search", "paper", "--data-dir", data_dir, env=env)
    assert result.returncode == 1, result
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"paperchat: error: The store at {data_dir} ") and "--rebuild" in line
    listing = clean_listing(tmp_path / "listing.jsonl")
    run_cli("ingest", "--rebuild", listing, "--data-dir", data_dir, "--no-progress", env=env, check=0)
    assert not (data_dir / MARKER_NAME).exists()
    assert "Clean Paper 1" in run_cli("search", "Clean Paper", "--data-dir", data_dir, env=env, check=0).stdout


def test_a_killed_writer_on_a_healthy_store_costs_one_check(tmp_path: Path, hashing: Embedder) -> None:
    data_dir = tmp_path / "store"
    _store_past_first_index_flush(data_dir, hashing)
    writer = _hold_lock(data_dir)
    with pytest.raises(StoreBusyError, match=f"in use by PID {writer.pid}"):
        PaperStore.open(data_dir, identity_of(hashing), create=False)  # a live writer: not opened
    assert (data_dir / MARKER_NAME).exists()  # and its marker left alone
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    with PaperStore.open(data_dir, identity_of(hashing), create=False) as store:
        assert store.count_papers() == 1100
    assert not (data_dir / MARKER_NAME).exists()  # checked once, then forgotten


def test_a_check_that_crashes_is_reported_as_damage_not_passed_on(
    tmp_path: Path, hashing: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child-process check exists because torn index files can kill the process that
    reads them; a check that dies by a signal must become the error, not crash the caller."""
    import vectorstore.store as store_module

    data_dir = tmp_path / "store"
    clean = clean_listing(tmp_path / "listing.jsonl")
    with PaperStore.open(data_dir, identity_of(hashing)) as store:
        ingest_paths([clean], store, hashing, progress=False)
    writer = _hold_lock(data_dir)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    monkeypatch.setattr(store_module, "_CHECK_SCRIPT", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    with pytest.raises(StoreCorruptError, match="crashed with SIGSEGV after paperchat ingest"):
        PaperStore.open(data_dir, identity_of(hashing), create=False)
    assert (data_dir / MARKER_NAME).exists()  # not checked successfully: asked again next time
