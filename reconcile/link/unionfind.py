"""Connected components over record pairs (pairwise links → clusters)."""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def cluster_numbers(records: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Each record's cluster, numbered 1, 2, … in the order of each cluster's first record.

    Records are positions 0 … records-1 and `left` / `right` the positions of linked pairs. The number depends on
    the records' order only, never on the order the pairs came in, so the same inputs always give the same
    clusters; the linker's records are ordered by their node text, so a cluster is numbered as its smallest node
    sorts (issue 18: positions, where strings were joined to find them)."""
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (np.asarray(left, dtype=np.int64),
                                                             np.asarray(right, dtype=np.int64))),
                       shape=(records, records))
    _, labels = connected_components(graph, directed=False)
    # scipy numbers components as it meets them; renumber by each one's smallest record
    first = np.full(labels.max() + 1 if records else 0, records, dtype=np.int64)
    np.minimum.at(first, labels, np.arange(records))
    rank = np.empty_like(first)
    rank[np.argsort(first, kind="stable")] = np.arange(1, first.size + 1)
    return rank[labels]
