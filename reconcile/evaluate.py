"""Score a run's findings against a synthetic county's ground truth (truth/findings.csv).

A finding matches a truth row of the same kind when it names the same person (person kinds) or
the same household (by 户编号 or by the head's ID). Recall counts truth rows found; precision counts
findings that match some truth row.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

PERSON_KINDS = {
    "member_missing", "person_multi_household", "name_mismatch", "id_mismatch", "id_invalid",
    "id_demographic_conflict", "relation_mismatch", "deceased_listed", "ineligible_member",
}


def read_truth(truth_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    findings = pl.read_csv(truth_dir / "findings.csv", infer_schema=False)
    households = pl.read_csv(truth_dir / "households.csv", infer_schema=False)
    return findings, households


def _keys(frame: pl.DataFrame, kind_col: str = "kind") -> pl.DataFrame:
    """One row per (kind, key) a row can be matched on."""
    person = frame.filter(pl.col(kind_col).is_in(PERSON_KINDS))
    household = frame.filter(~pl.col(kind_col).is_in(PERSON_KINDS))
    parts = [
        person.select(kind_col, "_i", pl.concat_str(pl.lit("p:"), pl.col("person_id")).alias("key")),
        household.select(kind_col, "_i", pl.concat_str(pl.lit("h:"), pl.col("hh_code")).alias("key")),
        household.select(kind_col, "_i", pl.concat_str(pl.lit("i:"), pl.col("head_id")).alias("key")),
    ]
    return pl.concat(parts).drop_nulls("key").filter(~pl.col("key").is_in(["p:", "h:", "i:"]))


def score(findings: pl.DataFrame, truth: pl.DataFrame, kinds: set[str] | None = None) -> pl.DataFrame:
    """Per kind: truth rows, found, recall, findings, matching findings, precision."""
    truth = truth.select("kind", "hh_code", "head_id", "person_id").unique().with_row_index("_i")
    found = findings.select("kind", "hh_code", "head_id", "person_id").with_row_index("_i")
    tk, fk = _keys(truth), _keys(found)
    hits = tk.join(fk, on=["kind", "key"], suffix="_f")
    truth_found = hits.select("kind", "_i").unique().group_by("kind").len("found")
    findings_ok = hits.select("kind", "_i_f").unique().group_by("kind").len("correct")
    kinds_all = sorted(set(truth["kind"]) | set(found["kind"]))
    if kinds is not None:
        kinds_all = [k for k in kinds_all if k in kinds]
    table = (
        pl.DataFrame({"kind": kinds_all})
        .join(truth.group_by("kind").len("truth"), on="kind", how="left")
        .join(truth_found, on="kind", how="left")
        .join(found.group_by("kind").len("findings"), on="kind", how="left")
        .join(findings_ok, on="kind", how="left")
        .fill_null(0)
        .with_columns(
            (pl.col("found") / pl.col("truth")).alias("recall"),
            (pl.col("correct") / pl.col("findings")).alias("precision"),
        )
    )
    return table.sort("kind")


def findings_on_clean(findings: pl.DataFrame, households: pl.DataFrame) -> pl.DataFrame:
    clean = households.filter(pl.col("clean").str.to_lowercase().is_in(["true", "1", "yes"]))
    codes = set(clean["hh_code"].drop_nulls().to_list())
    heads = set(clean["head_id"].drop_nulls().to_list())
    return findings.filter(pl.col("hh_code").is_in(codes) | pl.col("head_id").is_in(heads))
