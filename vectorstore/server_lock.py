"""One writer at a time on a Chroma server: a lock kept on the server itself.

A Chroma server orders single requests, not an ingest: ``paperchat ingest`` reads the stored
records, merges its listings into them and writes the result back. Two processes doing that
at once each merge into what they read, so the same paper arriving from two overlapping
listings is stored twice and its fields are never merged (measured: the two bundled
listings ingested at once gave 169 records instead of 144). So a writer to a server holds
this lock for its whole read-merge-write, and a second writer *waits* for it rather than
failing: sharing a store through a server is the documented way for several processes to
write, and each of them should simply succeed, one after the other.

The lock is a collection named ``<collection>.paperchat-write-lock``: creating a collection
whose name exists fails on the server, so exactly one creator wins, on any machine that can
reach the server. Its metadata names the holder (PID, host, purpose, start) and carries a
heartbeat the holder refreshes every :data:`HEARTBEAT_SECONDS`. A lock whose holder is
gone — a dead PID on this host, or no heartbeat for :data:`STALE_SECONDS` — is taken over,
so a killed writer blocks nobody for long. (Two waiters taking over the same stale lock at
the same instant could both win; that needs a crash and a photo finish, and the ingest's
own damage check repairs what a crash leaves.)
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)

LOCK_SUFFIX = ".paperchat-write-lock"
#: How often the holder proves it is alive.
HEARTBEAT_SECONDS = 10.0
#: A heartbeat older than this means the holder is gone (a killed process, a lost machine).
STALE_SECONDS = 60.0
#: How often a waiting writer looks again.
POLL_SECONDS = 0.5


class ServerLockTimeout(Exception):
    """A writer waited longer than it was allowed to for another to finish."""

    def __init__(self, location: str, holder: dict[str, Any], waited: float) -> None:
        super().__init__(
            f"store {location} is still being written by {describe(holder)} after waiting "
            f"{waited:.0f} s; try again when it has finished"
        )
        self.holder = holder


def describe(holder: dict[str, Any]) -> str:
    """'PID 123 on host-a (paperchat ingest started at ...)' from the lock's metadata."""
    who = f"PID {holder.get('pid', '?')}"
    if holder.get("host") and holder.get("host") != socket.gethostname():
        who += f" on {holder['host']}"
    return f"{who} ({holder.get('purpose') or 'paperchat'} started at {holder.get('started', '?')})"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def is_stale(holder: dict[str, Any], now: float | None = None) -> bool:
    """Whether the lock's holder is gone: dead on this host, or silent for too long."""
    now = time.time() if now is None else now
    if holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int):
        if not _alive(int(holder["pid"])):
            return True
    return now - float(holder.get("beat") or 0.0) > STALE_SECONDS


def _already_exists(error: Exception) -> bool:
    return "already exists" in str(error).lower()


@contextmanager
def server_write_lock(client: Any, collection: str, location: str, purpose: str = "paperchat ingest",
                      wait: float | None = None) -> Iterator[None]:  # fmt: skip
    """Hold ``collection``'s write lock on the server for the block, waiting for another
    writer first (without limit while it is alive, or at most ``wait`` seconds)."""
    from chromadb.errors import NotFoundError

    name = collection + LOCK_SUFFIX
    holder = {"pid": os.getpid(), "host": socket.gethostname(), "purpose": purpose,
              "started": datetime.now().astimezone().isoformat(timespec="seconds")}  # fmt: skip
    began = time.monotonic()
    told = False
    while True:
        try:
            lock = client.create_collection(name, metadata={**holder, "beat": time.time()}, embedding_function=None)
            break
        except Exception as error:  # a duplicate name is a plain ChromaError on a server
            if not _already_exists(error):
                raise
        try:
            other = dict(client.get_collection(name, embedding_function=None).metadata or {})
        except NotFoundError:
            continue  # released between our two calls: try again at once
        if is_stale(other):
            log.warning("taking over the write lock of %s from %s, which is gone", location, describe(other))
            try:
                client.delete_collection(name)
            except NotFoundError:
                pass
            continue
        waited = time.monotonic() - began
        if wait is not None and waited > wait:
            raise ServerLockTimeout(location, other, waited)
        if not told:
            log.warning("store %s is being written by %s; waiting for it to finish", location, describe(other))
            told = True
        time.sleep(POLL_SECONDS)

    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            try:
                lock.modify(metadata={**holder, "beat": time.time()})
            except Exception:  # the server is away for a moment: the next beat retries
                log.debug("lock heartbeat failed", exc_info=True)

    thread = threading.Thread(target=beat, name="paperchat-lock-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
        try:
            client.delete_collection(name)
        except Exception:  # gone already (taken over as stale) or the server is down: it goes stale
            log.debug("could not release the write lock of %s", location, exc_info=True)
