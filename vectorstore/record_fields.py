"""How a paper's full record is laid out in the metadata of its first chunk.

Chroma keeps every string metadata value twice: in its metadata table and in an index over
``(key, string_value)``. SQLite stores at most about 1,000 bytes of an index entry on the
index page and moves the rest to an overflow page of its own, 4 KB, mostly empty: one
1.5 KB record JSON cost a whole page in the index alone (measured on the bundled 144
papers: the index was 3.2 times the size of the records it held). Cut into pieces that
fit on the page, the same records take about a third of that space, and a record still
reads back by joining its pieces in order.

The number of pieces is stored beside them, and only that many are read: Chroma's upsert
merges metadata, so a record that shrank from three pieces to two keeps a stale third
under ``record.2``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The key of the first piece; later pieces are ``record.1``, ``record.2``, ...
RECORD_KEY = "record"
#: How many pieces the record has (absent in stores written before pieces: one).
COUNT_KEY = "record_pieces"
#: UTF-8 bytes per piece: under SQLite's ~1,000-byte local payload for an index entry on a
#: 4 KB page, with room for the key, the rowid and the entry's header.
PIECE_BYTES = 900


def record_pieces(record_json: str, piece_bytes: int = PIECE_BYTES) -> dict[str, str | int]:
    """``{"record": ..., "record.1": ..., "record_pieces": n}`` holding ``record_json`` in order.

    Pieces are cut between characters, never inside one, so each is valid text.
    """
    encoded = record_json.encode("utf-8")
    pieces: list[str] = []
    start = 0
    while True:
        end = min(start + piece_bytes, len(encoded))
        while start < end < len(encoded) and (encoded[end] & 0xC0) == 0x80:
            end -= 1  # back off a UTF-8 continuation byte: cut before the character starts
        if end == start:  # a piece narrower than one character: take the whole character
            end += 1
            while end < len(encoded) and (encoded[end] & 0xC0) == 0x80:
                end += 1
        pieces.append(encoded[start:end].decode("utf-8"))
        if end >= len(encoded):
            break
        start = end
    fields: dict[str, str | int] = {piece_key(i): piece for i, piece in enumerate(pieces)}
    fields[COUNT_KEY] = len(pieces)
    return fields


def piece_key(index: int) -> str:
    return RECORD_KEY if index == 0 else f"{RECORD_KEY}.{index}"


def joined_record(metadata: Mapping[str, Any]) -> str:
    """The record JSON from a first chunk's metadata (a store written whole reads as one piece).

    Raises ``KeyError`` naming the missing piece when the metadata does not hold them all.
    """
    count = int(metadata.get(COUNT_KEY, 1))
    return "".join(str(metadata[piece_key(index)]) for index in range(count))
