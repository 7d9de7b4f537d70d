"""Connected components over record pairs (pairwise links → clusters)."""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def components(nodes: pl.Series, left: pl.Series, right: pl.Series) -> pl.Series:
    """Label each node with the smallest node (in sort order) of its connected component.

    The label is derived from the data, not from the order rows arrived in, so the same inputs
    always give the same clusters.
    """
    ordered = nodes.unique().sort()
    index = pl.DataFrame({"node": ordered, "i": np.arange(len(ordered), dtype=np.int64)})
    edges = pl.DataFrame({"a": left, "b": right}).join(
        index.rename({"node": "a", "i": "ia"}), on="a").join(index.rename({"node": "b", "i": "ib"}), on="b")
    n = len(ordered)
    graph = coo_matrix((np.ones(edges.height, dtype=np.int8), (edges["ia"].to_numpy(), edges["ib"].to_numpy())),
                       shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    # smallest member index per component gives a representative that does not depend on scipy's numbering
    first = pl.DataFrame({"label": labels, "i": np.arange(n)}).group_by("label").agg(pl.col("i").min().alias("rep"))
    reps = pl.DataFrame({"label": labels}).join(first, on="label", how="left", maintain_order="left")["rep"]
    mapping = pl.DataFrame({"node": ordered, "root": ordered.gather(reps.to_numpy())})
    return nodes.to_frame("node").join(mapping, on="node", how="left", maintain_order="left")["root"]
