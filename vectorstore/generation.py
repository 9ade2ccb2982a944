"""A token that changes whenever a store's papers change, so a running page can notice.

``paperchat serve`` and ``paperchat chat`` load the catalogue (records, BM25, authors) and,
for a local store, Chroma's vector index into memory when they start. An ingest run by
another process changes the store under them; comparing this token before a question is
how they learn of it and reload (:meth:`app.paperchat.PaperChat.refresh`).

A local store keeps the token in ``DATA_DIR/.paperchat.generation``: reading it is one small
file, so it can be checked before every question. A Chroma server keeps it in the
collection's metadata, where every client of the server sees it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

GENERATION_NAME = ".paperchat.generation"
#: The collection metadata key holding the token on a Chroma server.
METADATA_KEY = "paperchat_generation"


def new_token() -> str:
    """Unique per write: the time in nanoseconds and the writing process."""
    return f"{time.time_ns()}-{os.getpid()}"


def read_local(data_dir: Path) -> str:
    """The token of a local store; "" before its first ingest wrote one."""
    try:
        return (Path(data_dir) / GENERATION_NAME).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""


def write_local(data_dir: Path, token: str) -> None:
    """Replace the token atomically: a reader sees the old one or the new one, never half."""
    path = Path(data_dir) / GENERATION_NAME
    partial = path.with_name(f"{GENERATION_NAME}.{os.getpid()}.tmp")
    partial.write_text(token + "\n", encoding="utf-8")
    os.replace(partial, path)
