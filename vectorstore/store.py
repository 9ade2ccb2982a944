"""The Chroma collection that holds paper chunks, and the only module that talks to Chroma.

Two things make a vector store silently wrong, and this module refuses both:

* querying with vectors from a different embedder (or chunking) than the store was built
  with — every answer would be noise. The builder's :class:`StoreIdentity` is written into
  the collection metadata and checked on every open;
* letting Chroma embed text itself — its default embedder downloads a model, which fails
  offline. Every call here passes vectors we computed, and no embedding function is set.

A store is either a directory (``PersistentClient``, one writer process) or a Chroma
server (``HttpClient``) when several processes share one index.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from ingest.records import PaperRecord

_PREFIX = "paperchat_"
_PAGE = 5000


@dataclass(frozen=True)
class StoreIdentity:
    """What produced the vectors in a store; two stores are compatible only if these match."""

    embedder: str
    dimension: int
    chunking: str
    schema: int = 1

    def to_metadata(self) -> dict[str, str | int]:
        return {
            _PREFIX + "embedder": self.embedder,
            _PREFIX + "dimension": self.dimension,
            _PREFIX + "chunking": self.chunking,
            _PREFIX + "schema": self.schema,
        }

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any] | None) -> StoreIdentity | None:
        """The identity a collection records, or None if it was not made by paperchat."""
        metadata = metadata or {}
        try:
            return cls(
                embedder=str(metadata[_PREFIX + "embedder"]),
                dimension=int(metadata[_PREFIX + "dimension"]),
                chunking=str(metadata[_PREFIX + "chunking"]),
                schema=int(metadata.get(_PREFIX + "schema", 1)),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def describe(self) -> str:
        return (
            f"{self.embedder!r} ({self.dimension} dims, chunking {self.chunking}, "
            f"schema {self.schema})"
        )


class StoreMismatchError(Exception):
    """The store was built with another embedder, chunking or schema than asked for."""

    def __init__(self, location: str, stored: StoreIdentity | None, wanted: StoreIdentity,
                 local_dir: Path | None = None) -> None:  # fmt: skip
        built = stored.describe() if stored else "something that is not paperchat (no identity)"
        remedies = ["rebuild it: `paperchat ingest --rebuild PATH...`"]
        if local_dir is not None:
            remedies.append(f"or delete the directory {local_dir}")
        if stored is not None and stored.embedder != wanted.embedder:
            remedies.append(f"or set PAPERCHAT_EMBEDDER={stored.embedder} to use it as built")
        super().__init__(
            f"The store at {location} was built with embedder {built}; you asked for "
            f"{wanted.describe()}. Vectors from different embedders cannot be compared, so "
            + ", ".join(remedies)
            + "."
        )
        self.stored = stored
        self.wanted = wanted


class StoreMissingError(Exception):
    """No index exists yet where one was expected."""


class StoreUnavailableError(Exception):
    """The Chroma server named by the settings cannot be reached."""

    def __init__(self, url: str, cause: object = None) -> None:
        try:
            port = urlparse(url if "://" in url else f"http://{url}").port or 8000
        except ValueError:
            port = 8000
        detail = f" ({cause})" if cause else ""
        super().__init__(
            f"Cannot reach the Chroma server at {url}{detail}. Start it with "
            f"`chroma run --path DIR --port {port}`, or unset PAPERCHAT_CHROMA_URL to use "
            "a local directory instead."
        )
        self.url = url


@dataclass(frozen=True)
class ChunkHit:
    """One retrieved chunk; ``similarity`` is cosine similarity (1 - cosine distance)."""

    paper_id: str
    chunk: int
    similarity: float
    text: str = ""


def _client_settings() -> Any:
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False)


def _collection_configuration(search_ef: int) -> dict[str, Any]:
    # Chroma 1.5 takes HNSW parameters as ``configuration`` (the "hnsw:*" metadata keys are
    # the legacy spelling). Its search_ef default of 10 loses ~15% recall, so set it.
    return {"hnsw": {"space": "cosine", "ef_search": search_ef, "ef_construction": 200}}


class PaperStore:
    """Paper chunks, their vectors, and the full record of each paper, in one collection.

    Chunk ``i`` of paper ``p`` has id ``f"{p}#{i}"``; chunk 0 also carries the whole record
    as JSON, so the store alone is enough to rebuild the catalogue (and the BM25 index).
    """

    def __init__(self, client: Any, collection: Any, identity: StoreIdentity, location: str,
                 url: str | None) -> None:  # fmt: skip
        self._client = client
        self._collection = collection
        self._identity = identity
        self._location = location
        self._url = url

    # ----------------------------------------------------------------------------- opening

    @classmethod
    def open(
        cls,
        data_dir: Path,
        identity: StoreIdentity,
        chroma_url: str | None = None,
        collection: str = "papers",
        search_ef: int = 128,
        create: bool = True,
    ) -> PaperStore:
        """Open (or create) the collection and check it was built the way ``identity`` says.

        Raises :class:`StoreMismatchError`, :class:`StoreMissingError` (``create=False`` and
        nothing there) or :class:`StoreUnavailableError` (server unreachable).
        """
        import chromadb
        from chromadb.errors import NotFoundError

        data_dir = Path(data_dir)
        chroma_dir = data_dir / "chroma"
        if chroma_url:
            client = cls._http_client(chroma_url)
            location = f"{chroma_url} (collection {collection!r})"
        else:
            if not create and not chroma_dir.is_dir():
                raise StoreMissingError(
                    f"No index at {data_dir}: run `paperchat ingest data/listings/*.txt` first."
                )
            client = chromadb.PersistentClient(path=str(chroma_dir), settings=_client_settings())
            location = str(data_dir)

        store: PaperStore | None = None
        try:
            with _guard(chroma_url):
                try:
                    col = client.get_collection(collection, embedding_function=None)
                except NotFoundError:
                    if not create:
                        raise StoreMissingError(
                            f"No index at {location}: run "
                            "`paperchat ingest data/listings/*.txt` first."
                        ) from None
                    col = client.get_or_create_collection(
                        collection,
                        configuration=_collection_configuration(search_ef),
                        metadata=identity.to_metadata(),
                        embedding_function=None,
                    )
                store = cls(client, col, identity, location, chroma_url)
                store._check(identity, None if chroma_url else data_dir, search_ef)
            return store
        finally:
            if store is None or store._collection is None:
                _close_client(client)

    @staticmethod
    def _http_client(url: str) -> Any:
        import chromadb

        parsed = urlparse(url if "://" in url else f"http://{url}")
        if not parsed.hostname:
            raise ValueError(f"PAPERCHAT_CHROMA_URL {url!r} is not a URL like http://HOST:PORT")
        ssl = parsed.scheme == "https"
        port = parsed.port or (443 if ssl else 8000)
        try:
            return chromadb.HttpClient(
                host=parsed.hostname, port=port, ssl=ssl, settings=_client_settings()
            )
        except Exception as error:  # chromadb raises ValueError("Could not connect ...")
            raise StoreUnavailableError(url, error) from error

    def _check(self, wanted: StoreIdentity, local_dir: Path | None, search_ef: int) -> None:
        """Refuse a collection built differently; bring its search_ef to what was asked."""
        stored = StoreIdentity.from_metadata(self._collection.metadata)
        hnsw = self.hnsw_configuration()
        if stored != wanted or hnsw.get("space", "cosine") != "cosine":
            self._collection = None
            raise StoreMismatchError(self._location, stored, wanted, local_dir)
        if hnsw.get("ef_search") != search_ef:
            with _quiet_legacy_warning():
                self._collection.modify(configuration={"hnsw": {"ef_search": search_ef}})

    def hnsw_configuration(self) -> dict[str, Any]:
        """The collection's HNSW settings as Chroma reports them (space, ef_search, ...)."""
        with _quiet_legacy_warning():
            return dict((self._collection.configuration or {}).get("hnsw") or {})

    # ---------------------------------------------------------------------------- writing

    def upsert_paper(self, record: PaperRecord, chunks: list[str], embeddings: np.ndarray) -> None:
        """Store one paper's chunks; see :meth:`upsert_papers`."""
        self.upsert_papers([(record, chunks, embeddings)])

    def upsert_papers(self, items: Iterable[tuple[PaperRecord, list[str], np.ndarray]]) -> None:
        """Store papers' chunks and vectors, replacing what was stored under their ids.

        Chunks a paper no longer has (its abstract got shorter) are deleted, so stale text
        can never be retrieved.
        """
        ids: list[str] = []
        documents: list[str] = []
        metadatas: list[dict[str, Any]] = []
        vectors: list[np.ndarray] = []
        paper_ids: list[str] = []
        for record, chunks, embeddings in items:
            self._validate(record, chunks, embeddings)
            paper_ids.append(record.id)
            base = self._base_metadata(record, len(chunks))
            for i, text in enumerate(chunks):
                meta = {**base, "chunk": i}
                if i == 0:
                    meta["record"] = record.to_json()
                ids.append(f"{record.id}#{i}")
                documents.append(text)
                metadatas.append(meta)
            vectors.append(np.asarray(embeddings, dtype=np.float32))
        if not ids:
            return
        with _guard(self._url):
            stale = set(self._chunk_ids(paper_ids)) - set(ids)
            if stale:
                self._delete_ids(sorted(stale))
            matrix = np.concatenate(vectors)
            step = self._max_batch()
            for start in range(0, len(ids), step):
                stop = start + step
                self._collection.upsert(
                    ids=ids[start:stop],
                    embeddings=matrix[start:stop],
                    documents=documents[start:stop],
                    metadatas=metadatas[start:stop],
                )

    def _validate(self, record: PaperRecord, chunks: list[str], embeddings: np.ndarray) -> None:
        if not record.id:
            raise ValueError("The record has no id: give it one with ingest.records.assign_id.")
        if not chunks:
            raise ValueError(f"Paper {record.id} has no chunks: it has no title, abstract or "
                             "authors to embed; skip it before storing.")  # fmt: skip
        shape = getattr(embeddings, "shape", None)
        if shape != (len(chunks), self._identity.dimension):
            raise ValueError(
                f"Paper {record.id}: {len(chunks)} chunks need embeddings of shape "
                f"({len(chunks)}, {self._identity.dimension}), got {shape}. Embed with the "
                f"store's embedder {self._identity.embedder!r}."
            )

    @staticmethod
    def _base_metadata(record: PaperRecord, n_chunks: int) -> dict[str, Any]:
        return {
            "paper_id": record.id,
            "n_chunks": n_chunks,
            "title": record.title or "",
            "authors": "; ".join(record.authors),
            "venue": record.venue or "",
            "year": int(record.year or 0),
            "status": record.status or "",
            "content_hash": record.content_hash(),
        }

    def delete_papers(self, ids: Iterable[str]) -> None:
        """Remove every chunk of the given papers; unknown ids are ignored."""
        with _guard(self._url):
            self._delete_ids(self._chunk_ids(list(ids)))

    def _delete_ids(self, chunk_ids: Sequence[str]) -> None:
        step = self._max_batch()
        for start in range(0, len(chunk_ids), step):
            self._collection.delete(ids=list(chunk_ids[start : start + step]))

    def _chunk_ids(self, paper_ids: Sequence[str]) -> list[str]:
        found: list[str] = []
        for start in range(0, len(paper_ids), 500):
            batch = list(dict.fromkeys(paper_ids[start : start + 500]))
            where = {"paper_id": {"$in": batch}} if len(batch) > 1 else {"paper_id": batch[0]}
            found.extend(self._collection.get(where=where, include=[])["ids"])
        return found

    def _max_batch(self) -> int:
        try:
            return max(1, min(_PAGE, int(self._client.get_max_batch_size())))
        except Exception:
            return 1000

    # ---------------------------------------------------------------------------- reading

    def _first_chunks(self, include: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
        """Page through chunk 0 of every paper, so 100k papers never load in one response."""
        offset = 0
        with _guard(self._url):
            while True:
                page = self._collection.get(
                    where={"chunk": 0}, include=include, limit=_PAGE, offset=offset
                )
                metadatas = page.get("metadatas") or [{}] * len(page["ids"])
                for chunk_id, meta in zip(page["ids"], metadatas):
                    yield chunk_id, dict(meta or {})
                if len(page["ids"]) < _PAGE:
                    return
                offset += _PAGE

    def stored_hashes(self) -> dict[str, str]:
        """paper_id -> content_hash, so ingestion re-embeds only what changed."""
        return {
            str(meta["paper_id"]): str(meta.get("content_hash", ""))
            for _, meta in self._first_chunks(["metadatas"])
        }

    def records(self) -> list[PaperRecord]:
        """Every stored paper as a full :class:`PaperRecord`, sources and links included."""
        records = []
        for _, meta in self._first_chunks(["metadatas"]):
            record = PaperRecord.from_dict(json.loads(str(meta["record"])))
            record.id = record.id or str(meta["paper_id"])
            records.append(record)
        return records

    def query(
        self, embedding: np.ndarray, n_results: int, where: dict[str, Any] | None = None, with_text: bool = False
    ) -> list[ChunkHit]:
        """The chunks nearest to ``embedding``, most similar first.

        Only ids and distances are fetched unless ``with_text``: chunk ids carry the paper id
        and chunk number, and skipping the metadata (chunk 0 holds the whole record) makes
        the query several times faster.
        """
        vector = np.asarray(embedding, dtype=np.float32).reshape(-1)
        if vector.shape[0] != self._identity.dimension:
            raise ValueError(
                f"Query vector has {vector.shape[0]} dims; the store holds "
                f"{self._identity.dimension}-dim vectors from {self._identity.embedder!r}."
            )
        if n_results <= 0:
            return []
        include = ["distances", "documents"] if with_text else ["distances"]
        with _guard(self._url):
            result = self._collection.query(
                query_embeddings=[vector], n_results=int(n_results), where=where, include=include
            )
        ids = result["ids"][0] if result.get("ids") else []
        documents = (result.get("documents") or [[]])[0] or []
        hits = []
        for i, (chunk_id, distance) in enumerate(zip(ids, result["distances"][0])):
            paper_id, _, chunk = chunk_id.rpartition("#")
            hits.append(
                ChunkHit(
                    paper_id=paper_id,
                    chunk=int(chunk),
                    similarity=min(1.0, 1.0 - float(distance)),  # float noise can exceed 1
                    text=documents[i] if i < len(documents) and documents[i] else "",
                )
            )
        return hits

    def count_papers(self) -> int:
        return sum(1 for _ in self._first_chunks([]))

    def count_chunks(self) -> int:
        with _guard(self._url):
            return int(self._collection.count())

    @property
    def identity(self) -> StoreIdentity:
        return self._identity

    @property
    def location(self) -> str:
        """Where the store lives (directory or server URL), for messages."""
        return self._location

    @classmethod
    def drop(cls, data_dir: Path, chroma_url: str | None = None, collection: str = "papers") -> None:
        """Delete the collection (``ingest --rebuild``); a store that is not there is no error."""
        import chromadb
        from chromadb.errors import NotFoundError

        if chroma_url:
            client = cls._http_client(chroma_url)
        else:
            chroma_dir = Path(data_dir) / "chroma"
            if not chroma_dir.is_dir():
                return
            client = chromadb.PersistentClient(path=str(chroma_dir), settings=_client_settings())
        try:
            with _guard(chroma_url):
                try:
                    client.delete_collection(collection)
                except NotFoundError:
                    pass
        finally:
            _close_client(client)

    def close(self) -> None:
        """Release the client; a local directory is unlocked for another process after this."""
        self._collection = None
        _close_client(self._client)

    def __enter__(self) -> PaperStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _close_client(client: Any) -> None:
    close = getattr(client, "close", None)
    if callable(close):
        try:
            close()
        except Exception:  # closing twice, or a server that already went away
            pass


@contextmanager
def _quiet_legacy_warning() -> Iterator[None]:
    """Chroma calls a collection with no embedding function "legacy" and warns on every
    configuration read; having none is deliberate here (Chroma's default downloads a model)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "legacy embedding function config", DeprecationWarning)
        yield


@contextmanager
def _guard(url: str | None) -> Iterator[None]:
    """Turn a lost server connection into a :class:`StoreUnavailableError` naming the URL."""
    if url is None:
        yield
        return
    import httpx

    try:
        yield
    except httpx.TransportError as error:
        raise StoreUnavailableError(url, error) from error
