"""Filtered dense search from vectors in memory gives what Chroma's filtered query gives."""

from __future__ import annotations

import os

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from app.exact_dense import FilteredVectors  # noqa: E402
from ingest.chunking import CHUNKING_VERSION  # noqa: E402
from ingest.records import PaperRecord  # noqa: E402
from vectorstore.store import PaperStore, StoreIdentity  # noqa: E402

STATUSES = ("Oral", "Poster", "Spotlight")


def test_filtered_similarities_match_chromas_filtered_query(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    papers = [PaperRecord(id=f"p_{i:04d}", title=f"Paper {i}", status=STATUSES[i % 3]) for i in range(300)]
    chunks = [rng.normal(size=(1 + i % 3, 384)).astype(np.float32) for i in range(300)]  # 1-3 chunks each
    with PaperStore.open(tmp_path, StoreIdentity("hashing-384", 384, CHUNKING_VERSION)) as store:
        store.upsert_papers((p, ["x"] * len(c), c) for p, c in zip(papers, chunks))
        orals = [p.id for p in papers if p.status == "Oral"]
        exact = FilteredVectors(store.chunk_vectors)
        for _ in range(5):
            query = rng.normal(size=384).astype(np.float32)
            query /= np.linalg.norm(query)
            ours = exact.similarities(("status", "Oral"), lambda: orals, query, depth=10)
            best: dict[str, float] = {}
            for hit in store.query(query, 300, where={"status": {"$eq": "Oral"}}):
                best[hit.paper_id] = max(best.get(hit.paper_id, -1.0), hit.similarity)
            chroma_top = sorted(best, key=best.get, reverse=True)[:10]
            assert set(ours) == set(chroma_top)
            assert all(abs(ours[pid] - best[pid]) < 1e-4 for pid in ours)
            assert set(ours) <= set(orals)


def test_cached_vectors_are_the_subsets_unit_rows_and_only_its_papers(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    papers = [PaperRecord(id=f"p_{i:03d}", title=f"Paper {i}", status=STATUSES[i % 3]) for i in range(30)]
    chunks = [rng.normal(size=(1 + i % 3, 384)).astype(np.float32) for i in range(30)]
    with PaperStore.open(tmp_path, StoreIdentity("hashing-384", 384, CHUNKING_VERSION)) as store:
        store.upsert_papers((p, ["x"] * len(c), c) for p, c in zip(papers, chunks))
        orals = [p.id for p in papers if p.status == "Oral"]
        exact = FilteredVectors(store.chunk_vectors)
        assert exact.cached(orals) == {}  # nothing until a filtered search loads the subset
        exact.similarities(("status", "Oral"), lambda: orals, rng.normal(size=384).astype(np.float32), depth=5)
        cached = exact.cached([p.id for p in papers])
        assert set(cached) == set(orals)
        for i, paper in enumerate(papers):
            if paper.id in cached:
                unit = chunks[i] / np.linalg.norm(chunks[i], axis=1, keepdims=True)
                assert np.allclose(cached[paper.id], unit, atol=1e-5)


def test_feedback_on_a_filtered_question_reads_no_vectors_from_the_store(bundled_store: Path) -> None:
    from app import PaperChat

    pc = PaperChat(data_dir=bundled_store)
    store = pc.store()
    reads: list[int] = []
    fetch = store.chunk_vectors
    store.chunk_vectors = lambda ids: reads.append(len(ids)) or fetch(ids)  # count, then read
    try:
        searcher = pc.searcher  # built after the counter, so every read goes through it
        assert searcher.store is store
        searcher.search("Which orals study differential privacy?", where={"status": "Oral"})
        loaded = len(reads)
        result = searcher.search("Which orals forecast time series?", where={"status": "Oral"})
    finally:
        del store.chunk_vectors
    assert loaded >= 1  # the first filtered question loads the orals' vectors
    assert len(reads) == loaded  # the second one's feedback finds them in memory
    assert result.papers  # and feedback still ran: it decides what is kept
