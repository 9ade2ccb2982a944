"""The Python API: ``PaperChat`` ties settings, store, retrieval and answering together.

    from app import PaperChat
    pc = PaperChat(data_dir=".paperchat")
    pc.ingest(["data/listings"])
    for paper in pc.search("Which orals study DP-SGD?"):
        print(paper.citation)
    print(pc.ask("Which orals study DP-SGD?").text)

    # streaming: text chunks as the model writes them, then the final Answer
    for item in pc.stream_ask("Which orals study DP-SGD?"):
        print(item if isinstance(item, str) else "", end="", flush=True)

    # a conversation: history is a list of (message, Answer) pairs, oldest first
    history = []
    for message in ["Which orals involve differential privacy?", "Who wrote the second one?"]:
        history.append((message, pc.chat(message, history)))

The CLI and the page are thin edges over this class.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from app.backends import make_backend
from app.engine import PaperQueryEngine
from app.papers import Answer, Paper
from app.question import prepare_question
from app.relevance import RelevancePolicy
from app.search import HybridSearcher, SearchResult, validate_filters
from app.settings import Settings, load_settings
from ingest.chunking import CHUNKING_VERSION
from ingest.parsers import ListingDefaults
from ingest.pipeline import IngestReport, ingest_paths
from vectorstore.embedding import Embedder, make_embedder
from vectorstore.lock import store_write_lock
from vectorstore.store import PaperStore, StoreIdentity

#: Seconds between two looks at the store's generation token before a question (one small
#: file read for a local store, one request to a Chroma server).
REFRESH_CHECK_SECONDS = 2.0


class PaperChat:
    """One store of papers, searchable and answerable.

    Objects are built lazily: creating a ``PaperChat`` loads nothing, the first search loads
    the embedder and the store's records, and an ingest resets what it invalidates.

    A long-running ``PaperChat`` (the page, ``paperchat chat``) also notices when another
    process ingests into its store: before a question it compares the store's generation
    token (:mod:`vectorstore.generation`) and, when it changed, reloads the catalogue in
    the background while the questions meanwhile are answered from what was loaded.
    """

    def __init__(
        self,
        data_dir: str | Path | None = None,
        *,
        settings: Settings | None = None,
        llm: str | None = None,
        llm_model: str | None = None,
        chroma_url: str | None = None,
        embedder: str | None = None,
    ) -> None:
        base = settings or load_settings()
        overrides = {"data_dir": data_dir, "llm": llm, "llm_model": llm_model, "chroma_url": chroma_url, "embedder": embedder}
        self.settings = base.model_copy(update={k: v for k, v in overrides.items() if v is not None})
        if data_dir is not None:
            self.settings.data_dir = Path(data_dir)
        self._embedder: Embedder | None = None
        self._store: PaperStore | None = None
        self._searcher: HybridSearcher | None = None
        self._engine: PaperQueryEngine | None = None
        #: The store's generation token when the catalogue in memory was loaded.
        self._generation: str | None = None
        self._checked_at = 0.0
        self._reload_lock = threading.Lock()
        #: How many times the catalogue was reloaded after another process changed the store.
        self.reloads = 0

    # -- building blocks ------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = make_embedder(self.settings.embedder, self.settings.embed_threads)
        return self._embedder

    def identity(self) -> StoreIdentity:
        """What this configuration would build a store with."""
        return StoreIdentity(self.embedder.name, self.embedder.dimension, CHUNKING_VERSION)

    def store(self, create: bool = False) -> PaperStore:
        """The opened store; ``create=False`` raises ``StoreMissingError`` when there is none."""
        if self._store is None:
            self._store = self._open_store(create=create)
        return self._store

    def _open_store(self, create: bool = False, fresh: bool = False) -> PaperStore:
        return PaperStore.open(
            self.settings.data_dir,
            self.identity(),
            chroma_url=self.settings.chroma_url,
            collection=self.settings.collection,
            search_ef=self.settings.search_ef,
            create=create,
            server_timeout=self.settings.chroma_timeout,
            fresh=fresh,
        )

    def _policy(self) -> RelevancePolicy:
        """The relevance thresholds, with the answerability bar from the settings when given:
        its default was measured for the packaged embedder, and another one scores on another scale."""
        bar = self.settings.answerable_similarity
        return RelevancePolicy() if bar is None else RelevancePolicy(answerable_dense=bar)

    @property
    def searcher(self) -> HybridSearcher:
        if self._searcher is None:
            store = self.store()
            generation = _generation_of(store)  # before reading: a change after it is seen next time
            self._searcher = HybridSearcher(store, self.embedder, policy=self._policy())
            self._generation = generation
            self._checked_at = time.monotonic()
        return self._searcher

    @property
    def query_engine(self) -> PaperQueryEngine:
        """The llama-index query engine: ``pc.query_engine.query(q)`` returns a ``Response``."""
        if self._engine is None:
            backend = make_backend(self.settings.llm, self.settings)
            self._engine = PaperQueryEngine(
                searcher=self.searcher, backend=backend, before_query=self._reload_if_changed
            )
        return self._engine

    # -- another process changed the store --------------------------------------------------

    def refresh(self) -> bool:
        """Reload the catalogue now if another process changed the store; True if it did.

        Questions do this by themselves, in the background, at most every
        ``REFRESH_CHECK_SECONDS``; call it to be sure the next answer sees a finished ingest.
        """
        if self._searcher is None:
            return False
        with self._reload_lock:  # after a reload already running, which may make this one moot
            token = _generation_of(self._store)
            if token is None or token == self._generation:
                return False
            return self._reload(token)

    def _reload_if_changed(self) -> None:
        """Start a background reload when the store's token moved (see :meth:`refresh`)."""
        now = time.monotonic()
        if self._searcher is None or now - self._checked_at < REFRESH_CHECK_SECONDS:
            return
        self._checked_at = now
        token = _generation_of(self._store)
        if token is None or token == self._generation or not self._reload_lock.acquire(blocking=False):
            return

        def reload() -> None:
            try:
                self._reload(token)
            finally:
                self._reload_lock.release()

        threading.Thread(target=reload, name="paperchat-reload", daemon=True).start()

    def _reload(self, token: str) -> bool:
        """Open the store afresh and swap the new catalogue in; False (retried later) when
        the store cannot be read now, e.g. another ingest has started."""
        old_store = self._store
        if old_store is None:
            return False
        local = self.settings.chroma_url is None
        store: PaperStore | None = None
        try:
            store = self._open_store(fresh=True) if local else old_store
            searcher = HybridSearcher(store, self.embedder, policy=self._policy())
        except Exception:  # busy, unreachable, mid-write: the loaded catalogue keeps answering
            if store is not None and store is not old_store:
                store.close()
            return False
        self._store, self._searcher, self._generation = store, searcher, token
        if self._engine is not None:
            self._engine.searcher = searcher
        if store is not old_store:
            old_store.retire()  # questions still running on it finish there
        self.reloads += 1
        return True

    # -- operations -------------------------------------------------------------------------

    def ingest(
        self,
        paths: Sequence[str | Path],
        format: str | None = None,
        venue: str | None = None,
        year: int | None = None,
        status: str | None = None,
        progress: bool | None = None,
        rebuild: bool = False,
    ) -> IngestReport:
        """Parse and store listings; see :func:`ingest.pipeline.ingest_paths`.

        Holds the store's write lock from the ``rebuild`` drop to the end, so another process
        gets :class:`~vectorstore.lock.StoreBusyError` instead of a half-built store.
        """
        with store_write_lock(self.settings.data_dir, self.settings.chroma_url):
            if rebuild:
                missing = [str(p) for p in paths if not Path(p).exists()]
                if missing:
                    raise FileNotFoundError(f"not rebuilding: no such listing {', '.join(missing)}")
                self.drop_store()
            report = ingest_paths(
                paths,
                self.store(create=True),
                self.embedder,
                format=format,
                defaults=ListingDefaults(venue=venue, year=year, status=status),
                progress=progress,
                max_tokens=self.embedder.max_tokens,
                max_listing_bytes=self.settings.max_listing_mb * 1024 * 1024,
            )
        self._searcher = None
        self._engine = None
        return report

    def drop_store(self) -> None:
        """Delete the store (used by ``--rebuild`` after an embedder change)."""
        if self._store is not None:
            self._store.close()
            self._store = None
        with store_write_lock(self.settings.data_dir, self.settings.chroma_url):
            PaperStore.drop(self.settings.data_dir, self.settings.chroma_url, self.settings.collection)
        self._searcher = None
        self._engine = None

    def search_result(self, question: str, k: int | None = None, where: dict[str, Any] | None = None) -> SearchResult:
        """The full search result: papers plus searched/matched counts and filters.

        ``debug["notices"]`` says what was done to the question (cut to length) or why it
        cannot match (empty, only symbols; see :func:`app.question.prepare_question`), and
        when the search was degraded (keywords only while the Chroma server is unreachable).
        """
        self._reload_if_changed()
        question, notices = prepare_question(question)
        result = self.searcher.search(question, k=k, where=where)
        result.debug["notices"] = [*notices, *result.notices]
        return result

    def search(self, question: str, k: int | None = None, where: dict[str, Any] | None = None) -> list[Paper]:
        """Papers for a question, best first; without ``k``, all that relevance keeps."""
        return self.search_result(question, k=k, where=where).papers

    def ask(self, question: str, where: dict[str, Any] | None = None) -> Answer:
        """An answer with citations built from the retrieved records."""
        return self.query_engine.answer(question, where=where)

    def stream_ask(self, question: str, where: dict[str, Any] | None = None) -> Iterator[str | Answer]:
        """Stream an answer: ``str`` chunks as the model writes them, then the final ``Answer``.

        Normally the chunks concatenate to ``answer.text`` (model text, then its verified
        sources). When they do not — a backend failed mid-stream, or the model cited nothing
        valid and the extractive list took over — replace what was shown with ``answer.text``.
        """
        return self.query_engine.stream_answer(question, where=where)

    def chat(
        self, message: str, history: Sequence[tuple[str, Answer]] = (), where: dict[str, Any] | None = None
    ) -> Answer:
        """Answer a conversational message; ``history`` is ``(message, Answer)`` pairs, oldest first.

        "those", "the second one", "it" refer to the previous answer's papers; its filters are
        kept unless the message names another value (or ``where`` is given). See :mod:`app.chat`.
        """
        from app.backends import final_answer

        return final_answer(self.stream_chat(message, history, where=where))

    def stream_chat(
        self, message: str, history: Sequence[tuple[str, Answer]] = (), where: dict[str, Any] | None = None
    ) -> Iterator[str | Answer]:
        """:meth:`chat`, streamed like :meth:`stream_ask`."""
        from app.chat import stream_turn

        validate_filters(where)  # before the conversation merges them with its own
        self._reload_if_changed()
        return stream_turn(self.query_engine, message, history, where)

    def chat_engine(self, where: dict[str, Any] | None = None):
        """A llama-index chat engine (``.chat``, ``.stream_chat``, ``.reset``) keeping its own history."""
        from app.chat import PaperChatEngine

        return PaperChatEngine(self.query_engine, where=where)

    def stats(self) -> dict[str, Any]:
        """Counts of records, with and without title/abstract, with institutions, by venue and status."""
        records = self.searcher.records
        return {
            "records": len(records),
            "with_title": sum(1 for r in records if r.title),
            "without_title": sum(1 for r in records if not r.title),
            "with_abstract": sum(1 for r in records if r.abstract),
            "without_abstract": sum(1 for r in records if not r.abstract),
            "with_affiliations": sum(1 for r in records if r.affiliations or r.domains),
            "by_venue": dict(Counter(f"{r.venue or '?'} {r.year or '?'}" for r in records)),
            "by_status": dict(Counter(r.status or "?" for r in records)),
            "listings": dict(Counter(s.file for r in records for s in r.sources)),
            "store": self.store().location,
            "embedder": self.embedder.name,
        }


def _generation_of(store: PaperStore | None) -> str | None:
    """The store's generation token, or None when it cannot be read just now."""
    if store is None:
        return None
    try:
        return store.generation()
    except Exception:  # a server that went away: the next question looks again
        return None
