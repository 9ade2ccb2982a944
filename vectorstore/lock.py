"""One writer per store directory: an advisory lock file the kernel releases on process death.

Two ingests into one Chroma directory would each read the stored records, merge their own
listings in, and write back: the second silently undoes the first's merges. So every write
to a local store holds ``DATA_DIR/.paperchat.lock`` (``fcntl.flock``, exclusive) for its whole
duration, and a second writer fails at once with :class:`StoreBusyError` naming the holder.

Why ``flock`` and not "a PID file that exists": the kernel drops the lock when the holding
process dies, however it dies (SIGKILL, OOM killer, power loss of a container), so a stale
lock can never block anyone; the PID written inside is only there to make the message useful.
The file is never deleted (deleting it while another process waits on it would let two
processes lock two different files of the same name).

Readers take no lock: Chroma serves reads from its SQLite log while another process writes,
so a search during an ingest sees the papers written so far. A Chroma server
(``PAPERCHAT_CHROMA_URL``) is the documented way for several processes to share a store; no
lock file is used in server mode, where the lock is kept on the server itself and a second
writer waits for the first (:mod:`vectorstore.server_lock`).

A writer also leaves ``DATA_DIR/.paperchat.writing`` while it holds the lock and removes it
when it lets go. Finding that file with nobody holding the lock means a writer was killed
mid-write (:func:`interrupted_write`): Chroma's HNSW files may then be torn, which can crash
the reading process outright, so the store checks itself in a subprocess first
(:meth:`vectorstore.store.PaperStore.open`).
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, ContextManager

try:  # POSIX; on Windows there is no flock and the lock is skipped (one user, one process).
    import fcntl
except ImportError:  # pragma: no cover - exercised only on Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".paperchat.lock"
#: Present while a writer works; left behind when it is killed.
MARKER_NAME = ".paperchat.writing"


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or last held) a store's lock, as written inside the lock file."""

    pid: int | None
    purpose: str
    started: str
    host: str = ""

    @classmethod
    def parse(cls, text: str) -> LockHolder | None:
        """The holder recorded in the file, or None if it is empty or from something else."""
        try:
            data = json.loads(text)
            return cls(int(data["pid"]), str(data.get("purpose", "")), str(data.get("started", "")),
                       str(data.get("host", "")))  # fmt: skip
        except (ValueError, KeyError, TypeError):
            return None

    def to_text(self) -> str:
        return json.dumps(
            {"pid": self.pid, "purpose": self.purpose, "started": self.started, "host": self.host}
        ) + "\n"


class StoreBusyError(Exception):
    """Another process is writing to this store directory."""

    def __init__(self, data_dir: Path, holder: LockHolder | None) -> None:
        if holder is None:
            who = "another process (its PID is not recorded yet)"
        else:
            who = f"PID {holder.pid}"
            if holder.host and holder.host != socket.gethostname():
                who += f" on {holder.host}"
            who += f" ({holder.purpose or 'paperchat'} started at {holder.started})"
        super().__init__(
            f"store {data_dir} in use by {who}; wait for it, or use a Chroma server "
            "(PAPERCHAT_CHROMA_URL) to share a store"
        )
        self.data_dir = data_dir
        self.holder = holder


class StoreReadDuringWriteError(StoreBusyError):
    """Chroma failed to read a store directory while another process was writing it."""

    def __init__(self, data_dir: Path, holder: LockHolder | None, cause: BaseException) -> None:
        super().__init__(data_dir, holder)
        who = f"PID {holder.pid}" if holder and holder.pid else "another process"
        self.args = (
            f"store {data_dir} could not be read while {who} writes it (Chroma: {cause}); "
            "ask again when that write finishes, or use a Chroma server (PAPERCHAT_CHROMA_URL) "
            "to read and write one store at the same time",
        )


class StoreLock:
    """The exclusive write lock of one store directory; see the module docstring."""

    def __init__(self, data_dir: str | Path, purpose: str = "paperchat ingest") -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / LOCK_NAME
        self.purpose = purpose
        self.holder_text = ""
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock now or raise :class:`StoreBusyError`; never waits."""
        if fcntl is None:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = LockHolder.parse(handle.read())
            handle.close()
            raise StoreBusyError(self.data_dir, holder) from None
        except BaseException:
            handle.close()
            raise
        holder = LockHolder(
            pid=os.getpid(),
            purpose=self.purpose,
            started=datetime.now().astimezone().isoformat(timespec="seconds"),
            host=socket.gethostname(),
        )
        handle.seek(0)
        handle.truncate()
        self.holder_text = holder.to_text()
        handle.write(self.holder_text)
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        """Drop the lock; the file stays (see the module docstring)."""
        if self._handle is not None:
            handle, self._handle = self._handle, None
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()

    def holder(self) -> LockHolder | None:
        """Who the file says holds the lock (meaningful only while someone does)."""
        try:
            return LockHolder.parse(self.path.read_text(encoding="utf-8"))
        except OSError:
            return None

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


@dataclass
class _Held:
    lock: StoreLock
    count: int
    #: The writer whose marker this process found on taking the lock (it was killed).
    interrupted: LockHolder | None


#: Locks this process holds, by directory, with a count: ``PaperChat.ingest`` takes the lock
#: around ``--rebuild`` and the pipeline takes it again inside. A second ``flock`` on a new
#: file descriptor would conflict with the first, so nested takes share one lock.
_HELD: dict[Path, _Held] = {}
_HELD_GUARD = threading.Lock()


@contextmanager
def write_lock(data_dir: str | Path, purpose: str = "paperchat ingest") -> Iterator[None]:
    """Hold the store directory's write lock for the block (re-entrant within a process),
    with the write marker in place; see the module docstring."""
    key = Path(data_dir).resolve()
    marker = Path(data_dir) / MARKER_NAME
    with _HELD_GUARD:
        if key in _HELD:
            _HELD[key].count += 1
        else:
            lock = StoreLock(data_dir, purpose)
            lock.acquire()
            try:
                interrupted = _read_holder(marker)
                if lock._handle is not None:  # no marker without a real lock (Windows)
                    marker.write_text(lock.holder_text, encoding="utf-8")
            except BaseException:
                lock.release()
                raise
            _HELD[key] = _Held(lock, 1, interrupted)
    try:
        yield
    finally:
        with _HELD_GUARD:
            held = _HELD[key]
            held.count -= 1
            if held.count == 0:
                del _HELD[key]
                marker.unlink(missing_ok=True)
                held.lock.release()


def _read_holder(path: Path) -> LockHolder | None:
    try:
        return LockHolder.parse(path.read_text(encoding="utf-8"))
    except OSError:
        return None


def other_writer(data_dir: str | Path) -> tuple[bool, LockHolder | None]:
    """Whether another process holds this directory's write lock now, and who it says it is.

    Asked only after a read failed (it takes the lock shared for an instant, which a writer
    starting at that very moment would see as busy).
    """
    key = Path(data_dir).resolve()
    with _HELD_GUARD:
        if key in _HELD:
            return False, None  # this process is the writer
    if fcntl is None:
        return False, None
    try:
        with open(Path(data_dir) / LOCK_NAME, encoding="utf-8") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True, LockHolder.parse(handle.read())
    except OSError:
        pass
    return False, None


def interrupted_write(data_dir: str | Path) -> LockHolder | None:
    """The writer that was killed in the middle of writing this store, if one was.

    From inside the process now holding the lock: whoever left the marker it found. From
    anywhere else: the marker's writer, if no live process holds the lock (a live writer's
    marker is just work in progress).
    """
    key = Path(data_dir).resolve()
    with _HELD_GUARD:
        if key in _HELD:
            return _HELD[key].interrupted
    holder = _read_holder(Path(data_dir) / MARKER_NAME)
    if holder is None or fcntl is None:
        return None
    writing, _ = other_writer(data_dir)
    return None if writing else holder  # a live writer's marker is work in progress


def clear_interrupted(data_dir: str | Path) -> None:
    """Forget a killed writer once the store has been checked, if no one is writing now."""
    key = Path(data_dir).resolve()
    with _HELD_GUARD:
        if key in _HELD:
            _HELD[key].interrupted = None
            return
    try:
        with StoreLock(data_dir, "paperchat check"):
            (Path(data_dir) / MARKER_NAME).unlink(missing_ok=True)
    except (StoreBusyError, OSError):
        pass


def store_write_lock(data_dir: str | Path, chroma_url: str | None,
                     purpose: str = "paperchat ingest") -> ContextManager[None]:  # fmt: skip
    """The lock a write to this store directory needs; none for a Chroma server, whose lock
    needs the open store (:meth:`vectorstore.store.PaperStore.write_lock` takes it)."""
    return nullcontext() if chroma_url else write_lock(data_dir, purpose)
