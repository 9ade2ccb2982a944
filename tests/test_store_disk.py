"""How a local store lays out records on disk: pieces that fit SQLite's pages, no free pages left behind."""

from __future__ import annotations

import os

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from ingest.chunking import CHUNKING_VERSION  # noqa: E402
from ingest.records import PaperRecord, SourceRef  # noqa: E402
from vectorstore.compact import free_bytes, sqlite_path  # noqa: E402
from vectorstore.record_fields import COUNT_KEY, PIECE_BYTES, joined_record, record_pieces  # noqa: E402
from vectorstore.store import PaperStore, StoreIdentity  # noqa: E402

IDENTITY = StoreIdentity("hashing-384", 384, CHUNKING_VERSION)


def vector(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(1, 384)).astype(np.float32)


def paper(i: int, abstract: str) -> PaperRecord:
    return PaperRecord(
        id=f"p_{i:04d}",
        title=f"Paper {i} — Ünïcode",
        authors=["Hal Daumé III", "Emmanuel J Candès"],
        abstract=abstract,
        sources=[SourceRef(file="listing.txt", entry=i, format="virtual", line=i * 7)],
    )


def test_pieces_fit_the_page_and_join_back_exactly() -> None:
    text = json.dumps({"abstract": "différentiel " * 400 + "λ" * 300}, ensure_ascii=False)
    fields = record_pieces(text)
    pieces = [value for key, value in fields.items() if key != COUNT_KEY]
    assert fields[COUNT_KEY] == len(pieces) > 3
    assert all(len(str(piece).encode("utf-8")) <= PIECE_BYTES for piece in pieces)
    assert joined_record(fields) == text


def test_pieces_are_cut_between_characters_even_when_narrower_than_one() -> None:
    text = "a😀é中" * 50  # 1-, 4-, 2- and 3-byte characters
    for piece_bytes in (1, 2, 3, 5, 7, 64):
        fields = record_pieces(text, piece_bytes)
        pieces = [str(value) for key, value in fields.items() if key != COUNT_KEY]
        assert joined_record(fields) == text
        assert all(piece for piece in pieces)
        assert all(len(piece.encode("utf-8")) <= max(piece_bytes, 4) for piece in pieces)
        assert all(len(piece.encode("utf-8")) <= piece_bytes or len(piece) == 1 for piece in pieces)


def test_a_record_that_shrinks_reads_back_without_its_old_pieces(tmp_path: Path) -> None:
    # Chroma's upsert merges metadata: the long version's later pieces stay stored.
    long = paper(1, "A very long abstract with accents: é, ü, ß. " * 120)
    short = paper(1, "Now short.")
    with PaperStore.open(tmp_path, IDENTITY) as store:
        store.upsert_paper(long, ["x"], vector(1))
        assert store.records() == [long]
        store.upsert_paper(short, ["x"], vector(1))
        assert store.records() == [short]
    with PaperStore.open(tmp_path, IDENTITY, create=False) as store:
        assert store.records() == [short]


def test_a_store_written_with_the_record_whole_still_reads(tmp_path: Path) -> None:
    old = paper(2, "Written by an earlier paperchat, whose first chunk held the record whole.")
    with PaperStore.open(tmp_path, IDENTITY) as store:
        store.upsert_paper(old, ["x"], vector(2))
        collection = store._collection  # the on-disk layout is what is being tested
        meta = collection.get(ids=[f"{old.id}#0"], include=["metadatas"])["metadatas"][0]
        whole = {k: v for k, v in meta.items() if not k.startswith("record")}
        collection.delete(ids=[f"{old.id}#0"])
        collection.upsert(ids=[f"{old.id}#0"], embeddings=vector(2), metadatas=[{**whole, "record": old.to_json()}])
        assert store.records() == [old]


def test_compact_gives_back_free_pages_and_keeps_every_record(tmp_path: Path) -> None:
    papers = [paper(i, f"Abstract {i}: " + "words about the method " * 60) for i in range(300)]
    with PaperStore.open(tmp_path, IDENTITY) as store:
        store.upsert_papers((p, ["x"], vector(i)) for i, p in enumerate(papers))
        store.delete_papers([p.id for p in papers[100:]])
        database = sqlite_path(tmp_path / "chroma")
        free, total = free_bytes(database)
        assert free > 0.3 * total, "deleting two thirds of the papers leaves free pages"
        with store.write_lock("test compact"):
            saved = store.compact()
        assert saved > 0 and database.stat().st_size < total - saved / 2
        assert free_bytes(database)[0] < 0.05 * database.stat().st_size
        assert store.records() == papers[:100]
        hits = store.query(vector(5)[0], 3)
        assert hits[0].paper_id == papers[5].id
        store.upsert_paper(papers[150], ["x"], vector(150))  # still writable after the rewrite
        assert store.count_papers() == 101
