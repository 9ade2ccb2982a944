"""The Chroma store against a real on-disk Chroma and a real `chroma run` server."""

from __future__ import annotations

import os

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ingest.chunking import CHUNKING_VERSION, embedding_text_chunks  # noqa: E402
from ingest.records import PaperRecord, SourceRef, assign_id  # noqa: E402
from vectorstore.embedding import Embedder, make_embedder  # noqa: E402
from vectorstore.store import (  # noqa: E402
    PaperStore,
    StoreIdentity,
    StoreMismatchError,
    StoreMissingError,
    StoreUnavailableError,
)

PAPERS = [
    PaperRecord(
        title="Differentially Private Training of Deep Networks",
        authors=["Ada Lovelace", "Alan Turing"],
        abstract="We train neural networks under differential privacy with clipped, noised "
        "gradients and show tight privacy accounting.",
        venue="ICML",
        year=2024,
        status="oral",
        links={"site": "https://icml.cc/virtual/2024/oral/1", "pdf": "https://x.org/1.pdf"},
        sources=[SourceRef(file="orals.txt", entry=1, format="virtual", line=7)],
    ),
    PaperRecord(
        title="Protein Structure Prediction with Equivariant Transformers",
        authors=["Rosalind Franklin"],
        abstract="We predict the three-dimensional structure of proteins from their amino "
        "acid sequence with an SE(3)-equivariant transformer.",
        venue="ICML",
        year=2024,
        status="poster",
        sources=[SourceRef(file="posters.json", entry=12, format="paperlists")],
    ),
    PaperRecord(
        title=None,
        authors=["Grace Hopper"],
        abstract="Graph clustering with an unknown number of clusters, using structural "
        "information theory and hyperbolic embeddings of the partitioning tree.",
        venue="ICML",
        status="oral",
        sources=[SourceRef(file="orals.txt", entry=2, format="virtual", line=15)],
    ),
]
for _paper in PAPERS:
    _paper.id = assign_id(_paper)


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return make_embedder("minilm-l6-int8")


@pytest.fixture(scope="module")
def identity(embedder: Embedder) -> StoreIdentity:
    return StoreIdentity(embedder.name, embedder.dimension, CHUNKING_VERSION)


def ingest(store: PaperStore, embedder: Embedder, papers: list[PaperRecord],
           max_tokens: int = 256) -> None:  # fmt: skip
    items = []
    for paper in papers:
        chunks = embedding_text_chunks(paper, embedder.count_tokens, max_tokens=max_tokens)
        items.append((paper, chunks, embedder.embed(chunks)))
    store.upsert_papers(items)


def query(store: PaperStore, embedder: Embedder, text: str, n: int = 5) -> list[str]:
    return [hit.paper_id for hit in store.query(embedder.embed([text])[0], n)]


def roundtrip(store: PaperStore, embedder: Embedder) -> None:
    """The behaviour both backends must share: find, no duplicates, faithful records."""
    ingest(store, embedder, PAPERS)
    assert store.count_papers() == 3
    chunks = store.count_chunks()

    hits = store.query(embedder.embed(["training networks with privacy guarantees"])[0], 10)
    assert hits[0].paper_id == PAPERS[0].id
    assert hits[0].chunk == 0
    assert 0.3 < hits[0].similarity <= 1.0
    assert len(hits) == chunks  # n_results clamped to what the collection holds
    assert query(store, embedder, "protein folding from amino acid sequences")[0] == PAPERS[1].id
    assert query(store, embedder, "clustering graphs when k is unknown")[0] == PAPERS[2].id

    ingest(store, embedder, PAPERS)  # same ids again: replaced, not duplicated
    assert store.count_chunks() == chunks
    assert store.count_papers() == 3

    by_id = {r.id: r for r in store.records()}
    assert set(by_id) == {p.id for p in PAPERS}
    for paper in PAPERS:
        assert by_id[paper.id] == paper  # sources, links, missing title: all round-trip
    assert store.stored_hashes() == {p.id: p.content_hash() for p in PAPERS}


# ----------------------------------------------------------------------- local directory


def test_local_store_roundtrip(tmp_path: Path, embedder: Embedder, identity) -> None:
    with PaperStore.open(tmp_path, identity) as store:
        assert store.location == str(tmp_path)
        assert store.identity == identity
        roundtrip(store, embedder)
    with PaperStore.open(tmp_path, identity, create=False) as store:  # survives reopening
        assert store.count_papers() == 3
        assert query(store, embedder, "differential privacy")[0] == PAPERS[0].id


def test_cosine_space_took_effect(tmp_path: Path) -> None:
    identity = StoreIdentity("hashing-384", 384, CHUNKING_VERSION)
    with PaperStore.open(tmp_path, identity) as store:
        x = np.zeros((1, 384), dtype=np.float32)
        x[0, 0] = 1.0
        y = np.zeros((1, 384), dtype=np.float32)
        y[0, 1] = 1.0
        store.upsert_paper(PaperRecord(title="x", id="p_x"), ["x"], x)
        store.upsert_paper(PaperRecord(title="y", id="p_y"), ["y"], y)
        hits = store.query(3.0 * x[0], 5)  # not unit length: cosine ignores scale
        assert [h.paper_id for h in hits] == ["p_x", "p_y"]
        assert hits[0].similarity == pytest.approx(1.0, abs=1e-5)  # identical -> distance 0
        assert hits[1].similarity == pytest.approx(0.0, abs=1e-5)  # orthogonal -> distance 1
        hnsw = store.hnsw_configuration()
        assert hnsw["space"] == "cosine" and hnsw["ef_search"] == 128


def test_search_ef_is_updated_on_reopen(tmp_path: Path, identity) -> None:
    PaperStore.open(tmp_path, identity).close()
    with PaperStore.open(tmp_path, identity, search_ef=64) as store:
        assert store.hnsw_configuration()["ef_search"] == 64


def test_shrinking_paper_loses_its_stale_chunks(tmp_path: Path, embedder: Embedder,
                                                identity) -> None:  # fmt: skip
    long_paper = PaperRecord(
        title="Long", abstract=" ".join(f"Finding number {i} is notable." for i in range(80))
    )
    long_paper.id = assign_id(long_paper)
    with PaperStore.open(tmp_path, identity) as store:
        ingest(store, embedder, [long_paper, PAPERS[1]], max_tokens=64)
        before = store.count_chunks()
        assert before > 4
        long_paper.abstract = "Now short."
        ingest(store, embedder, [long_paper])
        assert store.count_chunks() == 2
        assert store.count_papers() == 2
        hits = store.query(embedder.embed(["Finding number 70"])[0], 10)
        assert {(h.paper_id, h.chunk) for h in hits} == {(long_paper.id, 0), (PAPERS[1].id, 0)}


def test_delete_papers_and_where_filter(tmp_path: Path, embedder: Embedder, identity) -> None:
    with PaperStore.open(tmp_path, identity) as store:
        ingest(store, embedder, PAPERS)
        orals = store.query(embedder.embed(["protein"])[0], 10, where={"status": "oral"})
        assert {h.paper_id for h in orals} == {PAPERS[0].id, PAPERS[2].id}
        store.delete_papers([PAPERS[0].id, "p_unknown"])
        assert store.count_papers() == 2
        assert PAPERS[0].id not in store.stored_hashes()
        store.delete_papers([])


def test_records_pages_past_one_get_batch(tmp_path: Path) -> None:
    identity = StoreIdentity("hashing-384", 384, CHUNKING_VERSION)
    rng = np.random.default_rng(0)
    n = 5000 + 37  # one full page of 5000 plus a partial one
    papers = [PaperRecord(title=f"Paper {i}", id=f"p_{i:05d}") for i in range(n)]
    with PaperStore.open(tmp_path, identity) as store:
        vectors = rng.normal(size=(n, 384)).astype(np.float32)
        store.upsert_papers((p, ["t"], vectors[i : i + 1]) for i, p in enumerate(papers))
        assert store.count_papers() == n
        assert len(store.records()) == n
        assert len(store.stored_hashes()) == n


def test_wrong_shape_embeddings_are_refused(tmp_path: Path, identity) -> None:
    with PaperStore.open(tmp_path, identity) as store:
        with pytest.raises(ValueError, match="shape"):
            store.upsert_paper(PAPERS[0], ["a", "b"], np.zeros((1, 384), dtype=np.float32))
        with pytest.raises(ValueError, match="assign_id"):
            store.upsert_paper(PaperRecord(title="x"), ["x"], np.zeros((1, 384), np.float32))


def test_reopening_with_another_embedder_raises_mismatch(tmp_path: Path, identity) -> None:
    PaperStore.open(tmp_path, identity).close()
    other = StoreIdentity("hashing-384", 384, CHUNKING_VERSION)
    with pytest.raises(StoreMismatchError) as caught:
        PaperStore.open(tmp_path, other)
    message = str(caught.value)
    assert "minilm-l6-int8" in message and "hashing-384" in message
    assert "rebuild" in message.lower()
    assert "paperchat ingest --rebuild" in message
    assert "PAPERCHAT_EMBEDDER=minilm-l6-int8" in message
    assert str(tmp_path) in message
    # A chunking change is a mismatch too, even with the same embedder.
    rechunked = StoreIdentity(identity.embedder, identity.dimension, "sent-v1:max128:overlap0")
    with pytest.raises(StoreMismatchError, match="max128"):
        PaperStore.open(tmp_path, rechunked, create=False)
    # The original identity still opens after the refusals.
    PaperStore.open(tmp_path, identity, create=False).close()


def test_create_false_on_empty_dir_says_to_ingest(tmp_path: Path, identity) -> None:
    with pytest.raises(StoreMissingError, match="paperchat ingest"):
        PaperStore.open(tmp_path / "nothing-here", identity, create=False)
    assert not (tmp_path / "nothing-here").exists()  # looking did not create it
    (tmp_path / "chroma").mkdir()
    with pytest.raises(StoreMissingError, match="paperchat ingest"):
        PaperStore.open(tmp_path, identity, create=False)


def test_closed_port_raises_unavailable_quickly(tmp_path: Path, identity) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError) as caught:
        PaperStore.open(tmp_path, identity, chroma_url=url)
    assert time.monotonic() - started < 10
    assert url in str(caught.value)
    assert "chroma run" in str(caught.value)


# ---------------------------------------------------------------------------- server mode


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_heartbeat(url: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxy
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"`chroma run` exited with code {process.returncode}")
        try:
            with opener.open(f"{url}/api/v2/heartbeat", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise RuntimeError(f"`chroma run` gave no heartbeat at {url} within {timeout:.0f}s")


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = Path(sys.executable).parent / "chroma"
    if not binary.exists():
        pytest.skip(f"no chroma CLI next to {sys.executable}")
    data = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (data / "server.log").open("wb")
    process = subprocess.Popen(
        [str(binary), "run", "--path", str(data / "db"), "--port", str(port),
         "--host", "127.0.0.1"],  # fmt: skip
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    try:
        wait_for_heartbeat(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.mark.server
@pytest.mark.slow
def test_server_store_roundtrip(chroma_server: str, tmp_path: Path, embedder: Embedder,
                                identity) -> None:  # fmt: skip
    with PaperStore.open(tmp_path, identity, chroma_url=chroma_server,
                         collection="roundtrip") as store:  # fmt: skip
        assert chroma_server in store.location
        roundtrip(store, embedder)
    assert not (tmp_path / "chroma").exists()  # server mode writes nothing locally
    with PaperStore.open(tmp_path, identity, chroma_url=chroma_server, collection="roundtrip",
                         create=False) as store:  # fmt: skip
        assert store.count_papers() == 3


@pytest.mark.server
@pytest.mark.slow
def test_server_store_checks_identity(chroma_server: str, tmp_path: Path, identity) -> None:
    PaperStore.open(tmp_path, identity, chroma_url=chroma_server, collection="ident").close()
    other = StoreIdentity("hashing-384", 384, CHUNKING_VERSION)
    with pytest.raises(StoreMismatchError) as caught:
        PaperStore.open(tmp_path, other, chroma_url=chroma_server, collection="ident")
    assert "minilm-l6-int8" in str(caught.value) and "hashing-384" in str(caught.value)
    assert chroma_server in str(caught.value)
    with pytest.raises(StoreMissingError, match="paperchat ingest"):
        PaperStore.open(tmp_path, identity, chroma_url=chroma_server, collection="absent",
                        create=False)  # fmt: skip
