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
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ContextManager, TypeVar
from urllib.parse import urlparse

import numpy as np

from ingest.records import PaperRecord
from vectorstore.lock import MARKER_NAME, StoreBusyError, StoreReadDuringWriteError, other_writer
from vectorstore.record_fields import joined_record, record_pieces

_PREFIX = "paperchat_"
_PAGE = 5000
#: Seconds one request to a Chroma server may take. The Chroma client waits forever by
#: default, so a paused or half-dead server would hang every search (and every page worker).
SERVER_TIMEOUT = 60.0


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
    """The store was built with another embedder, chunking or schema than asked for.

    The message names what built the store and gives the commands that fix it, because the
    person who sees it did nothing wrong except upgrade paperchat or change a setting.
    """

    def __init__(self, location: str, stored: StoreIdentity | None, wanted: StoreIdentity,
                 local_dir: Path | None = None, older: bool = False) -> None:  # fmt: skip
        rebuild = "rebuild it from your listings: `paperchat ingest --rebuild PATH...`"
        remedies = [rebuild]
        if stored is None:
            built = (
                "an older paperchat that did not record its embedder" if older
                else "something that is not paperchat (no identity)"
            )
            why = "Its vectors cannot be trusted to match your queries, so "
        elif stored.schema != wanted.schema:
            newer = stored.schema > wanted.schema
            built = f"{'a newer' if newer else 'an older'} paperchat (store schema {stored.schema})"
            why = f"This paperchat reads store schema {wanted.schema}, so "
            if newer:
                remedies = ["use the newer paperchat that built it", "or " + rebuild]
        else:
            built = f"embedder {stored.describe()}"
            why = "Vectors from different embedders cannot be compared, so "
        if local_dir is not None:
            remedies.append(f"or delete the directory {local_dir}")
        if stored is not None and stored.embedder != wanted.embedder:
            remedies.append(f"or set PAPERCHAT_EMBEDDER={stored.embedder} to use it as built")
        super().__init__(
            f"The store at {location} was built with {built}; you asked for "
            f"{wanted.describe()}. {why}" + ", ".join(remedies) + "."
        )
        self.stored = stored
        self.wanted = wanted


class StoreCorruptError(Exception):
    """Chroma cannot read the store's vector index (HNSW files), e.g. after a killed write."""

    def __init__(self, location: str, cause: object) -> None:
        super().__init__(
            f"The store at {location} is damaged: Chroma cannot read its vector index ({cause}). "
            "This can happen when a process writing it is killed at the wrong moment. Rebuild "
            "it from your listings: `paperchat ingest --rebuild PATH...`."
        )
        self.location = location


T = TypeVar("T")
#: A search read that fails while another process writes the directory is tried this many
#: times, waiting 0.05, 0.1, 0.2 ... s in between (Chroma's writes take milliseconds).
READ_RETRIES = 5
READ_RETRY_SECONDS = 0.05
#: Probes of a server's store at open, before its index is called damaged (0.1 ... 0.8 s apart).
PROBE_RETRIES = 5
#: Fragments of the errors a Chroma server raises when its index files are unreadable.
_DAMAGE_SIGNS = ("hnsw", "pickle", "error finding id", "segment reader")


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
class StoredChunks:
    """Chunks as they were stored (id, document, metadata, vector), for undoing a write."""

    paper_ids: frozenset[str]
    rows: list[tuple[str, str, dict[str, Any], np.ndarray]]


@dataclass(frozen=True)
class StoreDamage:
    """What an interrupted write can leave behind, found by :meth:`PaperStore.damage`.

    ``incomplete`` papers have a chunk 0 but their other chunks do not match it (missing,
    extra, or from another version of the record): the next ingest embeds them again.
    ``orphans`` are chunk ids of papers with no chunk 0 at all: no record to cite, so they
    are deleted.
    """

    incomplete: frozenset[str] = frozenset()
    orphans: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.incomplete or self.orphans)


@dataclass(frozen=True)
class ChunkHit:
    """One retrieved chunk; ``similarity`` is cosine similarity (1 - cosine distance)."""

    paper_id: str
    chunk: int
    similarity: float


def _client_settings() -> Any:
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False)


#: Vectors Chroma adds to its index, and saves it, after: its default (1,000) keeps a store
#: of a few hundred chunks entirely in its write log, vectors and records a second time
#: (a third of the bundled store's bytes); saving every 100 measured no slower to ingest.
HNSW_SYNC_EVERY = 100


def _collection_configuration(search_ef: int) -> dict[str, Any]:
    # Chroma 1.5 takes HNSW parameters as ``configuration`` (the "hnsw:*" metadata keys are
    # the legacy spelling). Its search_ef default of 10 loses ~15% recall, so set it.
    return {
        "hnsw": {
            "space": "cosine",
            "ef_search": search_ef,
            "ef_construction": 200,
            "sync_threshold": HNSW_SYNC_EVERY,
            "batch_size": HNSW_SYNC_EVERY,
        }
    }


class PaperStore:
    """Paper chunks, their vectors, and the full record of each paper, in one collection.

    Chunk ``i`` of paper ``p`` has id ``f"{p}#{i}"``; chunk 0 also carries the whole record
    as JSON, so the store alone is enough to rebuild the catalogue (and the BM25 index).
    """

    def __init__(self, client: Any, collection: Any, identity: StoreIdentity, location: str,
                 url: str | None, data_dir: Path | None = None) -> None:  # fmt: skip
        self._client = client
        self._collection = collection
        self._identity = identity
        self._location = location
        self._url = url
        #: The local directory (None for a Chroma server): where the write lock lives.
        self.data_dir = data_dir
        self._retired = False

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
        server_timeout: float = SERVER_TIMEOUT,
        fresh: bool = False,
    ) -> PaperStore:
        """Open (or create) the collection and check it was built the way ``identity`` says.

        Raises :class:`StoreMismatchError`, :class:`StoreMissingError` (``create=False`` and
        nothing there), :class:`StoreUnavailableError` (server unreachable) or
        :class:`StoreCorruptError` (index files Chroma cannot read).

        ``fresh=True`` reads a local store from disk again instead of sharing the index a
        store opened earlier in this process holds in memory (see :func:`_forget_cached_client`).
        """
        import chromadb
        from chromadb.errors import NotFoundError

        data_dir = Path(data_dir)
        chroma_dir = data_dir / "chroma"
        killed = None
        if chroma_url:
            client = cls._http_client(chroma_url, server_timeout)
            location = f"{chroma_url} (collection {collection!r})"
        else:
            if not create and not chroma_dir.is_dir():
                raise StoreMissingError(
                    f"No index at {data_dir}: run `paperchat ingest data/listings/*.txt` first."
                )
            location = str(data_dir)
            if not create and (data_dir / MARKER_NAME).exists():
                # Chroma's embedded mode is one process's: a reader opening files another
                # process is rewriting can fail, or leave its index unreadable. Say who
                # writes and how to share instead (a store opened earlier stays usable).
                writing, holder = other_writer(data_dir)
                if writing:
                    raise StoreBusyError(data_dir, holder)
            killed = _interrupted_writer(data_dir) if chroma_dir.is_dir() else None
            if killed is not None:
                _check_in_subprocess(chroma_dir, collection, location, killed)
            if fresh:
                _forget_cached_client(chroma_dir)
            client = chromadb.PersistentClient(path=str(chroma_dir), settings=_client_settings())

        store: PaperStore | None = None
        opened = False
        try:
            with _guard(chroma_url, location):
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
                store = cls(client, col, identity, location, chroma_url,
                            None if chroma_url else data_dir)  # fmt: skip
                store._check(identity, None if chroma_url else data_dir, search_ef)
                store._probe_patiently()
            opened = True
            if not chroma_url and killed is not None:
                from vectorstore.lock import clear_interrupted

                clear_interrupted(data_dir)  # checked: later opens need not check again
            return store
        finally:
            if not opened:
                _close_client(client)

    @staticmethod
    def _http_client(url: str, timeout: float = SERVER_TIMEOUT) -> Any:
        import chromadb
        import httpx

        parsed = urlparse(url if "://" in url else f"http://{url}")
        if not parsed.hostname:
            raise ValueError(f"PAPERCHAT_CHROMA_URL {url!r} is not a URL like http://HOST:PORT")
        ssl = parsed.scheme == "https"
        port = parsed.port or (443 if ssl else 8000)
        try:
            # the client's own first requests have no timeout: ask once with one
            httpx.get(f"{parsed.scheme or 'http'}://{parsed.hostname}:{port}/api/v2/heartbeat",
                      timeout=min(timeout, 10.0), verify=ssl)  # fmt: skip
            client = chromadb.HttpClient(
                host=parsed.hostname, port=port, ssl=ssl, settings=_client_settings()
            )
        except Exception as error:  # chromadb raises ValueError("Could not connect ...")
            raise StoreUnavailableError(url, error) from error
        session = getattr(getattr(client, "_server", None), "_session", None)
        if isinstance(session, httpx.Client):
            session.timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        return client

    def _check(self, wanted: StoreIdentity, local_dir: Path | None, search_ef: int) -> None:
        """Refuse a collection built differently; bring its search_ef to what was asked."""
        stored = StoreIdentity.from_metadata(self._collection.metadata)
        hnsw = self.hnsw_configuration()
        if stored != wanted or hnsw.get("space", "cosine") != "cosine":
            older = stored is None and self._has_paperchat_chunks()
            self._collection = None
            raise StoreMismatchError(self._location, stored, wanted, local_dir, older=older)
        if hnsw.get("ef_search") != search_ef:
            with _quiet_legacy_warning():
                self._collection.modify(configuration={"hnsw": {"ef_search": search_ef}})

    def _has_paperchat_chunks(self) -> bool:
        """Whether the collection holds chunks shaped like ours (an older paperchat's store)."""
        try:
            sample = self._collection.get(limit=1, include=["metadatas"])
        except Exception:
            return False
        metadatas = sample.get("metadatas") or []
        return bool(metadatas) and "paper_id" in (metadatas[0] or {})

    def _probe_patiently(self) -> None:
        """:meth:`_probe`, tried again for a moment on a server: one that another client has
        just written to can answer from an index that has not yet taken in the last writes
        (fewer neighbours than it counts, or an error naming its index), which passes within
        moments; damage does not (seen once, in a test run of two writers sharing one server)."""
        self._retrying(self._probe, StoreCorruptError, PROBE_RETRIES if self._url else 1, 2 * READ_RETRY_SECONDS)

    def _probe(self) -> None:
        """Make Chroma load the vector index now, so damaged files fail at open with a remedy
        (:class:`StoreCorruptError`) instead of in the middle of a search or an ingest."""
        count = self._collection.count()
        if count == 0:
            return
        probe = np.zeros(self._identity.dimension, dtype=np.float32)
        probe[0] = 1.0
        wanted = min(count, 10)
        found = len(self._collection.query(query_embeddings=[probe], n_results=wanted, include=[])["ids"][0])
        if found < wanted:  # a torn graph answers with fewer neighbours than it holds
            raise StoreCorruptError(
                self._location, f"a search for {wanted} of its {count} chunks found only {found}"
            )

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
        can never be retrieved. Chunk 0 of every paper is written last: it carries the
        content hash that tells the next ingest the paper is done, so a process killed in the
        middle of this call leaves papers whose chunk 0 still has the old hash (or is absent),
        and :meth:`damage` finds and the next ingest redoes them.
        """
        rows: list[tuple[str, str, dict[str, Any], np.ndarray]] = []
        paper_ids: list[str] = []
        for record, chunks, embeddings in items:
            self._validate(record, chunks, embeddings)
            paper_ids.append(record.id)
            base = self._base_metadata(record, len(chunks))
            matrix = np.asarray(embeddings, dtype=np.float32)
            for i, text in enumerate(chunks):
                meta = {**base, "chunk": i}
                if i == 0:
                    meta.update(record_pieces(record.to_json()))
                rows.append((f"{record.id}#{i}", text, meta, matrix[i]))
        if not rows:
            return
        rows.sort(key=lambda row: row[2]["chunk"] == 0)  # stable: chunk 0s go last
        ids = {row[0] for row in rows}
        with _guard(self._url, self._location):
            stale = set(self._chunk_ids(paper_ids)) - ids
            if stale:
                self._delete_ids(sorted(stale))
            self._write_rows(rows)

    def _write_rows(self, rows: Sequence[tuple[str, str, dict[str, Any], np.ndarray]]) -> None:
        """Upsert (id, document, metadata, vector) rows in Chroma-sized batches, in order."""
        step = self._max_batch()
        for start in range(0, len(rows), step):
            batch = rows[start : start + step]
            # No documents: the chunk text is a pure function of the record in chunk 0, and
            # Chroma would store each one three times (metadata, its index, full-text search).
            self._collection.upsert(
                ids=[row[0] for row in batch],
                embeddings=np.stack([row[3] for row in batch]).astype(np.float32),
                metadatas=[row[2] for row in batch],
            )

    # ------------------------------------------------------------- undo and repair

    def snapshot(self, paper_ids: Iterable[str]) -> StoredChunks:
        """Everything stored for these papers (ids, vectors, texts, metadata), to put back
        with :meth:`restore` if the write that follows has to be undone."""
        rows: list[tuple[str, str, dict[str, Any], np.ndarray]] = []
        wanted = list(dict.fromkeys(paper_ids))
        with _guard(self._url, self._location):
            for start in range(0, len(wanted), 500):
                batch = wanted[start : start + 500]
                where = {"paper_id": {"$in": batch}} if len(batch) > 1 else {"paper_id": batch[0]}
                got = self._collection.get(
                    where=where, include=["embeddings", "documents", "metadatas"]
                )
                for chunk_id, document, meta, vector in zip(
                    got["ids"], got["documents"], got["metadatas"], got["embeddings"]
                ):
                    rows.append((chunk_id, document or "", dict(meta or {}),
                                 np.asarray(vector, dtype=np.float32)))  # fmt: skip
        return StoredChunks(paper_ids=frozenset(wanted), rows=rows)

    def all_chunks(self) -> StoredChunks:
        """Every chunk with its vector, text and metadata, paged: what the store holds, for
        consistency checks (``count``, ``get`` and ``query`` must agree) and comparisons."""
        rows: list[tuple[str, str, dict[str, Any], np.ndarray]] = []
        offset = 0
        with _guard(self._url, self._location):
            while True:
                got = self._collection.get(
                    include=["embeddings", "documents", "metadatas"], limit=_PAGE, offset=offset
                )
                for chunk_id, document, meta, vector in zip(
                    got["ids"], got["documents"], got["metadatas"], got["embeddings"]
                ):
                    rows.append((chunk_id, document or "", dict(meta or {}),
                                 np.asarray(vector, dtype=np.float32)))  # fmt: skip
                if len(got["ids"]) < _PAGE:
                    break
                offset += _PAGE
        return StoredChunks(paper_ids=frozenset(str(r[2].get("paper_id")) for r in rows), rows=rows)

    def restore(self, snapshot: StoredChunks, written: Iterable[str]) -> None:
        """Undo writes: remove every chunk of the ``written`` papers (and of the snapshot's),
        then put the snapshot's chunks back exactly as they were (chunk 0s last)."""
        touched = list(dict.fromkeys([*written, *sorted(snapshot.paper_ids)]))
        with _guard(self._url, self._location):
            if touched:
                self._delete_ids(self._chunk_ids(touched))
            rows = sorted(snapshot.rows, key=lambda row: row[2].get("chunk") == 0)
            if rows:
                self._write_rows(rows)

    def damage(self) -> StoreDamage:
        """Papers whose chunks are not one complete, consistent set; see :class:`StoreDamage`.

        Reads the metadata of every chunk once: cheap next to embedding, and it is what lets
        a re-run after a killed ingest converge instead of trusting half-written papers.
        """
        heads: dict[str, tuple[int, str]] = {}
        for _, meta in self._first_chunks(["metadatas"]):
            heads[str(meta["paper_id"])] = (int(meta.get("n_chunks", 1)), str(meta.get("content_hash", "")))
        tails: dict[str, list[tuple[int, str, str]]] = {}
        offset = 0
        with _guard(self._url, self._location):
            while True:
                page = self._collection.get(
                    where={"chunk": {"$gt": 0}}, include=["metadatas"], limit=_PAGE, offset=offset
                )
                for chunk_id, meta in zip(page["ids"], page["metadatas"] or []):
                    meta = meta or {}
                    tails.setdefault(str(meta.get("paper_id")), []).append(
                        (int(meta.get("chunk", -1)), str(meta.get("content_hash", "")), chunk_id)
                    )
                if len(page["ids"]) < _PAGE:
                    break
                offset += _PAGE
        incomplete: set[str] = set()
        orphans: list[str] = []
        for paper_id, (n_chunks, content_hash) in heads.items():
            rest = tails.pop(paper_id, [])
            numbers = sorted(chunk for chunk, _, _ in rest)
            if numbers != list(range(1, n_chunks)) or any(h != content_hash for _, h, _ in rest):
                incomplete.add(paper_id)
        for rest in tails.values():  # chunks whose paper has no chunk 0
            orphans.extend(chunk_id for _, _, chunk_id in rest)
        return StoreDamage(incomplete=frozenset(incomplete), orphans=tuple(sorted(orphans)))

    def delete_chunks(self, chunk_ids: Sequence[str]) -> None:
        """Remove these chunks by id (orphans left by an interrupted write)."""
        with _guard(self._url, self._location):
            self._delete_ids(list(chunk_ids))

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
            "venue": record.venue or "",
            "year": int(record.year or 0),
            "status": record.status or "",
            "content_hash": record.content_hash(),
        }

    def delete_papers(self, ids: Iterable[str]) -> None:
        """Remove every chunk of the given papers; unknown ids are ignored."""
        with _guard(self._url, self._location):
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
        with _guard(self._url, self._location):
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
            record = PaperRecord.from_dict(json.loads(joined_record(meta)))
            record.id = record.id or str(meta["paper_id"])
            records.append(record)
        return records

    def query(
        self, embedding: np.ndarray, n_results: int, where: dict[str, Any] | None = None
    ) -> list[ChunkHit]:
        """The chunks nearest to ``embedding``, most similar first.

        Only ids and distances are fetched: chunk ids carry the paper id and chunk number,
        and skipping the metadata (chunk 0 holds the whole record) makes the query several
        times faster.
        """
        vector = np.asarray(embedding, dtype=np.float32).reshape(-1)
        if vector.shape[0] != self._identity.dimension:
            raise ValueError(
                f"Query vector has {vector.shape[0]} dims; the store holds "
                f"{self._identity.dimension}-dim vectors from {self._identity.embedder!r}."
            )
        if n_results <= 0:
            return []
        result = self._read(
            lambda: self._collection.query(
                query_embeddings=[vector], n_results=int(n_results), where=where, include=["distances"]
            )
        )
        ids = result["ids"][0] if result.get("ids") else []
        hits = []
        for chunk_id, distance in zip(ids, result["distances"][0]):
            paper_id, _, chunk = chunk_id.rpartition("#")
            hits.append(
                ChunkHit(
                    paper_id=paper_id,
                    chunk=int(chunk),
                    similarity=min(1.0, 1.0 - float(distance)),  # float noise can exceed 1
                )
            )
        return hits

    def _read(self, call: Callable[[], T]) -> T:
        """Run a read of the search path, retrying it for a moment when it fails because another
        process is writing this directory (its log and index change under the reader)."""
        return self._retrying(call, StoreReadDuringWriteError, READ_RETRIES, READ_RETRY_SECONDS)

    def _retrying(self, call: Callable[[], T], passing: type[Exception], tries: int, first_wait: float) -> T:
        """Run ``call`` with Chroma's errors translated, up to ``tries`` times while it raises
        the ``passing`` kind of error, waiting ``first_wait`` seconds and doubling in between;
        the last try's error is raised."""
        for attempt in range(tries - 1):
            try:
                with _guard(self._url, self._location):
                    return call()
            except passing:
                time.sleep(first_wait * 2**attempt)
        with _guard(self._url, self._location):
            return call()

    def chunk_vectors(self, paper_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Each paper's chunk vectors as a ``(chunks, dimension)`` matrix, for the few dozen
        papers retrieval compares against a refined query; unknown ids are left out, and so are
        papers whose vectors cannot be read (they then get no refined similarity)."""
        wanted = list(dict.fromkeys(paper_ids))
        if not wanted:
            return {}
        where = {"paper_id": {"$in": wanted}} if len(wanted) > 1 else {"paper_id": wanted[0]}
        try:
            got = self._read(lambda: self._collection.get(where=where, include=["embeddings"]))
        except (StoreCorruptError, StoreReadDuringWriteError):
            if len(wanted) == 1:
                return {}
            # Another process added papers after this one loaded the index: Chroma finds
            # their metadata but not their vectors. Leave out the papers it cannot read.
            found: dict[str, np.ndarray] = {}
            for paper_id in wanted:
                found.update(self.chunk_vectors([paper_id]))
            return found
        rows: dict[str, list[np.ndarray]] = {}
        for chunk_id, vector in zip(got["ids"], got["embeddings"]):
            rows.setdefault(chunk_id.rpartition("#")[0], []).append(np.asarray(vector, dtype=np.float32))
        return {pid: np.stack(vectors) for pid, vectors in rows.items()}

    def count_papers(self) -> int:
        return sum(1 for _ in self._first_chunks([]))

    def count_chunks(self) -> int:
        with _guard(self._url, self._location):
            return int(self._collection.count())

    def write_lock(self, purpose: str = "paperchat ingest") -> ContextManager[None]:
        """The lock every write to this store holds: the directory's lock file
        (:mod:`vectorstore.lock`), or for a Chroma server a lock kept on the server, which
        a second writer waits for (:mod:`vectorstore.server_lock`)."""
        from vectorstore.lock import store_write_lock

        if self.data_dir is None and self._url:
            from vectorstore.server_lock import server_write_lock

            @contextmanager
            def held() -> Iterator[None]:
                with _guard(self._url, self._location), server_write_lock(
                    self._client, self._collection.name, self._location, purpose
                ):
                    yield

            return held()
        return store_write_lock(self.data_dir or ".", None if self.data_dir else self._url, purpose)

    def compact(self) -> int:
        """Give back a local store's free pages (:mod:`vectorstore.compact`); bytes saved.

        Call it holding :meth:`write_lock`. A Chroma server manages its own files: 0.
        """
        if self.data_dir is None:
            return 0
        from vectorstore.compact import compact

        return compact(self.data_dir / "chroma")

    def generation(self) -> str:
        """A token that changes with every ingest that changes the store (:mod:`vectorstore.generation`)."""
        from vectorstore.generation import METADATA_KEY, read_local

        if self.data_dir is not None:
            return read_local(self.data_dir)
        with _guard(self._url, self._location):
            metadata = self._client.get_collection(self._collection.name, embedding_function=None).metadata
        return str((metadata or {}).get(METADATA_KEY, ""))

    def mark_changed(self) -> None:
        """Give the store a new generation token; call it holding :meth:`write_lock`."""
        from vectorstore.generation import METADATA_KEY, new_token, write_local

        token = new_token()
        if self.data_dir is not None:
            write_local(self.data_dir, token)
            return
        with _guard(self._url, self._location):
            current = self._client.get_collection(self._collection.name, embedding_function=None)
            self._collection.modify(metadata={**(current.metadata or {}), METADATA_KEY: token})

    def retire(self) -> None:
        """Mark a store replaced by one opened with ``fresh=True``: closing it is then a no-op
        (see :func:`_forget_cached_client`), and searches still running on it finish. Chroma
        frees it once nothing refers to it."""
        self._retired = True

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
        if self._retired:
            return
        self._collection = None
        _close_client(self._client)

    def __enter__(self) -> PaperStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _interrupted_writer(data_dir: Path) -> Any:
    from vectorstore.lock import interrupted_write

    return interrupted_write(data_dir)


#: Opens the collection and searches it, in a child process: torn HNSW files can crash
#: Chroma's native code (SIGSEGV), which no ``except`` in this process could catch.
_CHECK_SCRIPT = """
import sys
import chromadb
from chromadb.config import Settings
from chromadb.errors import NotFoundError
client = chromadb.PersistentClient(path=sys.argv[1], settings=Settings(anonymized_telemetry=False))
try:
    col = client.get_collection(sys.argv[2], embedding_function=None)
except NotFoundError:
    sys.exit(0)
count = col.count()
if count:
    vector = col.get(limit=1, include=["embeddings"])["embeddings"][0]
    found = len(col.query(query_embeddings=[vector], n_results=min(count, 10), include=[])["ids"][0])
    if found < min(count, 10):
        sys.exit(f"a search for {min(count, 10)} of its {count} chunks found only {found}")
"""


def _check_in_subprocess(chroma_dir: Path, collection: str, location: str, killed: Any) -> None:
    """Raise :class:`StoreCorruptError` if a child process cannot open and search the store.

    Run only when the last writer was killed mid-write (see :mod:`vectorstore.lock`), since
    it costs a Python start-up.
    """
    import os
    import signal
    import subprocess
    import sys

    when = f"after {killed.purpose or 'a write'} (PID {killed.pid}, started at {killed.started}) was killed mid-write"
    try:
        result = subprocess.run(
            [sys.executable, "-c", _CHECK_SCRIPT, str(chroma_dir), collection],
            capture_output=True, text=True, timeout=300,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
    except subprocess.TimeoutExpired:
        raise StoreCorruptError(location, f"a check of the store hung {when}") from None
    if result.returncode < 0:
        name = signal.Signals(-result.returncode).name
        raise StoreCorruptError(location, f"a check of the store crashed with {name} {when}")
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["?"])[-1]
        raise StoreCorruptError(location, f"{last} {when}")


def _forget_cached_client(chroma_dir: Path) -> None:
    """Make the next ``PersistentClient`` for ``chroma_dir`` load the store from disk.

    Chroma shares one in-memory system (its vector index included) between all clients of a
    path in a process, so reopening would return the index as it was loaded, without what
    another process has since written. Dropping the cache entry (without stopping the system:
    an answer in flight may still read through the old client) gives the next client its
    own. A store opened before must then not be closed: closing counts down the shared
    entry, which now belongs to the new system (:meth:`PaperStore.retire`).
    """
    from chromadb.api.shared_system_client import SharedSystemClient

    identifier = str(chroma_dir)
    SharedSystemClient._identifier_to_system.pop(identifier, None)
    SharedSystemClient._identifier_to_refcount.pop(identifier, None)


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
def _guard(url: str | None, location: str | None = None) -> Iterator[None]:
    """Turn Chroma's low-level failures into errors that say what to do.

    A lost server connection becomes :class:`StoreUnavailableError` naming the URL; a local
    read that fails while another process writes the directory becomes
    :class:`StoreReadDuringWriteError`; other unreadable index files (Chroma's ``InternalError``: any, for a local directory; those about HNSW
    segments, from a server) become :class:`StoreCorruptError`, which says how to rebuild.
    """
    from chromadb.errors import InternalError

    try:
        yield
    except InternalError as error:
        if url is None and location is not None:
            # Chroma reads a directory another process is writing from files that process is
            # changing under it: a passing failure, not damage (``_read`` retries it).
            writing, holder = other_writer(location)
            if writing:
                raise StoreReadDuringWriteError(Path(location), holder, error) from error
        # Locally, Chroma's internal errors come from its own files; from a server they may
        # be passing trouble, so only the ones that name the index files count there.
        if url is None or any(sign in str(error).lower() for sign in _DAMAGE_SIGNS):
            raise StoreCorruptError(location or url or "?", error) from error
        raise
    except Exception as error:
        if url is not None:
            import httpx

            if isinstance(error, httpx.TransportError):
                raise StoreUnavailableError(url, error) from error
        raise
