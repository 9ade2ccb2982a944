"""Give back the disk space a local store's SQLite file no longer uses.

Chroma's embedded mode logs every write in SQLite (vectors included) and deletes the log
entries once its vector index has saved them. SQLite keeps the freed pages inside the file
for later writes, so a store ingested once stays as large as it was at its busiest: on the
bundled 144 papers, a quarter of the file was free pages. ``VACUUM`` rewrites the file
without them. It runs at the end of an ingest, under the store's write lock, and only when
the free pages are worth a rewrite.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

#: Rewrite only when at least this share of the file is free pages ...
MIN_FREE_SHARE = 0.2
#: ... and they add up to at least this many bytes (a small store is not worth the time).
MIN_FREE_BYTES = 256 * 1024
#: Seconds to wait for Chroma's own connections to let go of the file.
LOCK_TIMEOUT = 10.0


def sqlite_path(chroma_dir: Path) -> Path:
    return Path(chroma_dir) / "chroma.sqlite3"


def free_bytes(database: Path) -> tuple[int, int]:
    """(free bytes, file bytes) of a SQLite file, from its own page counts."""
    with sqlite3.connect(database, timeout=LOCK_TIMEOUT) as connection:
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        free = connection.execute("PRAGMA freelist_count").fetchone()[0]
    return free * page_size, pages * page_size


def compact(chroma_dir: Path) -> int:
    """Rewrite the store's SQLite file when enough of it is free; return the bytes saved.

    The caller holds the store's write lock, so no other paperchat process writes; a page
    reading the store meanwhile can hold SQLite's lock past ``LOCK_TIMEOUT``, and then the
    file stays as it is (0): the papers are stored either way, and the next ingest tries again.
    """
    database = sqlite_path(chroma_dir)
    if not database.is_file():
        return 0
    before = database.stat().st_size
    try:
        free, total = free_bytes(database)
        if free < MIN_FREE_BYTES or free < MIN_FREE_SHARE * total:
            return 0
        connection = sqlite3.connect(database, timeout=LOCK_TIMEOUT)
        try:
            connection.execute("VACUUM")
        finally:
            connection.close()
    except sqlite3.Error:
        return 0
    return max(0, before - database.stat().st_size)
