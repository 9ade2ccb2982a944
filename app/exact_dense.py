"""Dense similarities over a filtered subset of papers, exact and in memory.

Chroma answers a ``where``-filtered query by collecting the matching ids from SQLite and
searching among them: 91 ms for "status = Oral" on a 100,000-paper store (5,397 orals),
against 4 ms unfiltered, and most questions are filtered ("which orals ..." once the store
holds posters too). A filter that keeps few enough papers is served from their chunk vectors
instead, fetched once per filter and kept as one matrix: one matrix product, about a
millisecond, and exact where the HNSW index is approximate.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

#: Filters keeping at most this many papers are searched here (10,000 papers with 1.3
#: chunks each are 20 MB of vectors); larger ones go to Chroma's filtered query.
MAX_PAPERS = 10_000
#: Filtered subsets kept at once (the filter combinations a page's users ask most).
MAX_SUBSETS = 4
#: Papers whose vectors one request asks the store for.
FETCH_BATCH = 2_000


class FilteredVectors:
    """Chunk vectors of the papers each filter keeps, stacked, with their owners."""

    def __init__(self, fetch: Callable[[list[str]], dict[str, np.ndarray]]) -> None:
        self._fetch = fetch
        self._subsets: OrderedDict[tuple, tuple[np.ndarray, np.ndarray, list[str]]] = OrderedDict()
        #: Paper -> (its subset's matrix, first row, end row), over every cached subset.
        self._rows: dict[str, tuple[np.ndarray, int, int]] = {}

    def cached(self, paper_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Chunk vectors (unit length) of those papers that a cached subset holds.

        Feedback (:meth:`~app.search.HybridSearcher._chunk_vectors`) asks for the vectors of
        the best-ranked papers, which for a filtered question are papers of this subset:
        reading them here spares a store round trip and a second copy in memory.
        """
        found = {}
        for pid in paper_ids:
            row = self._rows.get(pid)
            if row is not None:
                matrix, start, end = row
                found[pid] = matrix[start:end]
        return found

    def similarities(self, key: tuple, paper_ids: Callable[[], Sequence[str]], vector: np.ndarray,
                     depth: int) -> dict[str, float]:  # fmt: skip
        """Best chunk similarity (cosine) of the ``depth`` most similar papers the filter
        ``key`` keeps; ``paper_ids`` lists them, and is called only when ``key`` is not cached."""
        matrix, starts, owners = self._subset(key, paper_ids)
        if not owners:
            return {}
        unit = vector / max(float(np.linalg.norm(vector)), 1e-12)
        best = np.maximum.reduceat(matrix @ unit, starts)
        if len(best) > depth:
            top = np.argpartition(-best, depth - 1)[:depth]
        else:
            top = np.arange(len(best))
        return {owners[i]: float(best[i]) for i in top}

    def _subset(self, key: tuple, paper_ids: Callable[[], Sequence[str]]) -> tuple[np.ndarray, np.ndarray, list[str]]:
        if key in self._subsets:
            self._subsets.move_to_end(key)
            return self._subsets[key]
        vectors: dict[str, np.ndarray] = {}
        ids = list(paper_ids())
        for start in range(0, len(ids), FETCH_BATCH):
            vectors.update(self._fetch(ids[start : start + FETCH_BATCH]))
        owners = [pid for pid in ids if pid in vectors]  # a paper it cannot read is left out
        if owners:
            blocks = [vectors[pid] for pid in owners]
            matrix = np.vstack(blocks).astype(np.float32)
            # cosine, as the store's index measures it, whatever length the vectors were given
            matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
            starts = np.cumsum([0] + [len(b) for b in blocks[:-1]])
        else:
            matrix, starts = np.zeros((0, 1), dtype=np.float32), np.zeros(0, dtype=int)
        self._subsets[key] = (matrix, starts, owners)
        while len(self._subsets) > MAX_SUBSETS:
            self._subsets.popitem(last=False)
        self._index_rows()
        return self._subsets[key]

    def _index_rows(self) -> None:
        """Rebuild the paper -> rows map after the cached subsets changed."""
        self._rows = {}
        for matrix, starts, owners in self._subsets.values():
            ends = [*starts[1:], len(matrix)]
            for pid, start, end in zip(owners, starts, ends):
                self._rows.setdefault(pid, (matrix, int(start), int(end)))
