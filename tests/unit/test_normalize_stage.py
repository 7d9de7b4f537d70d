"""Normalise stage on whole tables: every field cleaned, the cell as written kept in `<field>_raw`."""

from __future__ import annotations

import polars as pl

from reconcile.load import _with_rec_key
from reconcile.normalize.stage import PERSON_KINDS, normalize_frame

ID = "430624199001192513"


def _frame(rows: list[dict]) -> pl.DataFrame:
    meta = {"source": "system", "file": "导出.csv", "sheet": "", "row": 0}
    return pl.DataFrame([{**meta, **row, "row": i + 3} for i, row in enumerate(rows)],
                        schema={**{k: pl.String for k in rows[0]}, "source": pl.String, "file": pl.String,
                                "sheet": pl.String, "row": pl.Int64})


def test_wrapped_cells_give_the_plain_values_and_keep_the_raw_text():
    plain = {"rec_id": "430624101201000000201", "hh_code": "4306241012010000002", "name": "陆海",
             "id_number": ID, "village": "洞庭村", "migrant_work": "省外务工", "cadre_unit": "文星镇人民政府",
             "income_wage": "8354", "relation": "户主", "birth_date": "1990-01-19"}
    wrapped = {k: f'="{v}"' for k, v in plain.items()}
    invisible = {k: f"\u200b{v}\u00a0" for k, v in plain.items()} | {"hh_code": "4306241012010000002.0",
                                                                     "rec_id": "'430624101201000000201"}
    out = normalize_frame(_frame([plain, wrapped, invisible]), PERSON_KINDS)
    columns = list(plain)
    first, *others = out.select(columns).rows()
    assert others == [first, first]
    assert dict(zip(columns, first, strict=True))["name"] == "陆海"
    assert out["hh_code_raw"].to_list() == ["4306241012010000002", '="4306241012010000002"', "4306241012010000002.0"]
    for field in ("rec_id", "name", "migrant_work", "cadre_unit"):
        assert out[f"{field}_raw"].to_list()[1] == wrapped[field]


def test_blank_wrappers_are_empty_fields():
    out = normalize_frame(_frame([{"name": '=""', "hh_code": "\u3000", "note": "'", "rec_id": "H1"}]), PERSON_KINDS)
    assert out.select("name", "hh_code", "note").row(0) == (None, None, None)
    assert out.select("name_raw", "hh_code_raw").row(0) == ('=""', "\u3000")


def test_record_keys_are_computed_from_the_cleaned_record_id():
    def keys(rec_ids: list[str | None]) -> list[str]:
        frame = pl.DataFrame({"rec_id": rec_ids, "file": "a.csv", "sheet": "", "row": range(2, 2 + len(rec_ids))},
                             schema_overrides={"rec_id": pl.String, "row": pl.Int64})
        return _with_rec_key(frame)["rec_key"].to_list()

    assert keys(['="P01"', " P02\u200b", "'P03", "P04.0", "1001.0"]) == keys(["P01", "P02", "P03", "P04.0", "1001"])
    assert keys(['=""', None]) == ["a.csv::2", "a.csv::3"]  # a blank id falls back to the file position
    # an id typed twice (once wrapped) is still two records
    assert keys(['="P01"', "P01"]) == ["P01@a.csv::2", "P01@a.csv::3"]


def test_a_column_normalised_in_validate_is_reused_only_for_the_same_cells_and_normaliser(monkeypatch):
    """normalise_once (issue 18): validate's result serves normalize for equal cells, never another column of the
    same name, other stored-as-number flags, or the ID normaliser's call when the plain one ran."""
    from reconcile.normalize import columns

    calls: list[str] = []
    plain, ids = columns._normalize_series, columns._normalize_id_series
    monkeypatch.setattr(columns, "_normalize_series", lambda raw, kind: calls.append(kind) or plain(raw, kind))
    monkeypatch.setattr(columns, "_normalize_id_series", lambda raw, flags: calls.append("ids") or ids(raw, flags))
    raw = pl.Series("id_number", [ID, "12345"])
    no_flags, flags = pl.Series([False, False]), pl.Series([False, True])
    with columns.normalise_once():
        columns.normalize_series(raw, "id")  # validate with no stored-as-number cells known
        first = columns.normalize_id_series(raw, no_flags)
        assert isinstance(first, pl.DataFrame) and calls == ["id", "ids"]  # another normaliser: computed
        columns.normalize_id_series(raw, flags)
        assert calls == ["id", "ids", "ids"]  # other flags: computed
        assert columns.normalize_id_series(raw, no_flags).equals(first) and len(calls) == 3  # the same: reused
        columns.normalize_series(raw, "text")
        columns.normalize_series(raw.set(pl.Series([True, False]), "X"), "text")  # same name, other cells
        assert calls[-2:] == ["text", "text"]
        kept = columns.normalize_series(raw, "text")
        assert calls[-1] == "text" and len(calls) == 5 and kept[0].to_list() == plain(raw, "text")[0].to_list()
