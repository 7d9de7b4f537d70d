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
    """normalise_once (issue 18): validate's result serves normalize for the same column of the same load table,
    never another column of the same name, other stored-as-number flags, or the ID normaliser's call when the plain
    one ran; nothing is kept outside a load table's scope or shared between tables."""
    from reconcile.normalize import columns

    calls: list[str] = []
    plain, ids = columns._normalize_series, columns._normalize_id_series
    monkeypatch.setattr(columns, "_normalize_series", lambda raw, kind: calls.append(kind) or plain(raw, kind))
    monkeypatch.setattr(columns, "_normalize_id_series", lambda raw, flags: calls.append("ids") or ids(raw, flags))
    raw = pl.Series("id_number", [ID, "12345"])
    no_flags, flags = pl.Series([False, False]), pl.Series([False, True])
    with columns.normalise_once():
        columns.normalize_series(raw, "text")
        columns.normalize_series(raw, "text")
        assert calls == ["text", "text"]  # outside a table's scope: computed each time
        with columns.normalising_table("raw_person"):
            columns.normalize_series(raw, "text")
        with columns.normalising_table("raw_household"):
            columns.normalize_series(raw, "text")
        with columns.normalising_table("raw_person"):
            columns.normalize_series(raw, "text")
        assert calls == ["text"] * 4  # another table's column of the same name and cells: computed; its own: kept
        calls.clear()
    with columns.normalise_once(), columns.normalising_table("raw_person"):
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


def _recording(log: list, normalise):
    """`normalise`, noting the load table, column and kind of every column it works out."""
    from reconcile.normalize import columns

    def recorded(raw: pl.Series, kind: str):
        log.append((columns._TABLE.get(), raw.name, kind))
        return normalise(raw, kind)

    return recorded


def test_validate_and_normalize_give_the_same_tables_with_the_memo_as_without(tmp_path):
    """normalise_once on the sample county (the monitoring era's too): every table validate and normalize write
    is the same as when each stage normalises every column itself, and normalize computes nothing validate
    already did (the memo's key, the load table and column, finds each column again)."""
    import duckdb

    from reconcile.config import load_config
    from reconcile.load import load
    from reconcile.normalize import columns
    from reconcile.normalize.stage import normalize
    from reconcile.resources import sample_dir
    from reconcile.validate import validate

    tables = ["input_issue", "src_person", "src_household", "register", "register_attr", "visit"]
    for config_path in (sample_dir() / "reconcile.yaml", *sorted((sample_dir() / "监测期").glob("*.yaml"))):
        config = load_config(config_path)
        plain, memo = duckdb.connect(), duckdb.connect()
        load(plain, config, tmp_path)
        validate(plain)
        normalize(plain)
        load(memo, config, tmp_path)
        computed: dict[str, list[tuple[str | None, str, str]]] = {"validate": [], "normalize": []}
        kept = columns._normalize_series
        with columns.normalise_once():
            for stage, run in (("validate", validate), ("normalize", normalize)):
                columns._normalize_series = _recording(computed[stage], kept)  # type: ignore[assignment]
                try:
                    run(memo)
                finally:
                    columns._normalize_series = kept
        for table in tables:
            a, b = (pl.from_arrow(c.sql(f"select * from {table}").to_arrow_table()) for c in (plain, memo))
            assert a.equals(b), (config_path.name, table)
        # what validate worked out for a load table's column, normalize took: it computed only the columns validate
        # does not parse, and the register attributes (no load table's column)
        assert computed["validate"] and not set(computed["normalize"]) & set(computed["validate"]), \
            set(computed["normalize"]) & set(computed["validate"])


def _derived_as_first_written(persons: pl.DataFrame) -> pl.DataFrame:
    """The household chosen for each (source, hh_code) by sorting the persons whole: the reference for the
    gathered version, which sorts only the columns that decide."""
    from reconcile.normalize.stage import HOUSEHOLD_KINDS

    persons = persons.filter(pl.col("hh_code").is_not_null())
    ranked = persons.with_columns(
        (pl.col("relation") != "户主").fill_null(True).alias("_not_head"),
        pl.len().over(["source", "hh_code"]).alias("_members"),
        (pl.col("relation") == "户主").sum().over(["source", "hh_code"]).alias("_heads"),
    ).sort(["source", "hh_code", "_not_head", "row"])
    first = ranked.group_by(["source", "hh_code"], maintain_order=True).first()
    suffixes = ("", "_raw", "_valid", "_birth", "_sex", "_problem")
    household_cols = ["source", "role", "level", "file", "sheet", "row", "extra"] + [
        name + suffix for name in HOUSEHOLD_KINDS for suffix in suffixes if name + suffix in first.columns]
    head_is_row = ~pl.col("_not_head")
    no_head_columns = pl.col("head_id").is_null() & pl.col("head_id_raw").is_null() & head_is_row
    derived = first.with_columns(
        pl.when(pl.col("head_name").is_null() & head_is_row).then(pl.col("name")).otherwise(pl.col("head_name"))
        .alias("head_name"),
        *[pl.when(no_head_columns).then(pl.col(f"id_number{s}")).otherwise(pl.col(f"head_id{s}")).alias(f"head_id{s}")
          for s in suffixes],
        pl.col("hh_code").alias("rec_key"), pl.col("_members").cast(pl.Int64).alias("member_rows"),
        pl.col("_heads").cast(pl.Int64).alias("head_rows"))
    keep = list(dict.fromkeys(household_cols + ["rec_key", "member_rows", "head_rows"]))
    return derived.select([c for c in keep if c in derived.columns])


def test_households_derived_from_persons_are_those_of_the_whole_sort():
    """Each household of a person-level source is its head's row (else its first row in file order), with its
    member and head counts, and the head's name and ID where the file has no 户主 columns; across sources, codes
    repeated, households with no head or two, rows out of order and rows with no 户编号."""
    import random

    from reconcile.normalize.stage import _derive_households

    for seed in range(12):
        rng = random.Random(seed)
        rows = []
        for i in range(60):
            head_cols = rng.random() < 0.5
            rows.append({"source": rng.choice(["archive", "manual"]), "hh_code": rng.choice(["H1", "H2", "H3", None]),
                         "relation": rng.choice(["户主", "配偶", "之子", None]), "name": f"人{i}",
                         "id_number": ID if rng.random() < 0.7 else None, "head_name": "户主甲" if head_cols else None,
                         "head_id": ID if head_cols else None, "village": rng.choice(["大田村", "洞庭村"]),
                         "row": rng.randrange(1, 40)})
        frame = normalize_frame(_frame([{k: v for k, v in r.items() if k not in ("source", "row")} for r in rows]),
                                PERSON_KINDS)
        frame = frame.with_columns(pl.Series("source", [r["source"] for r in rows]),
                                   pl.Series("row", [r["row"] for r in rows], pl.Int64),
                                   pl.lit("archive").alias("role"), pl.lit("person").alias("level"),
                                   pl.lit(None, pl.String).alias("extra"))
        assert _derive_households(frame).equals(_derived_as_first_written(frame)), seed


def test_a_column_no_file_fills_normalises_as_the_general_path_would():
    """The all-null shortcut (issue 18, memory: half a county's person columns are empty, and a join's all-null
    output cost 16 bytes a row) gives what the general path gives, for every kind of the schema."""
    from reconcile.normalize import columns
    from reconcile.normalize.stage import _kinds
    from reconcile.schema import REGISTER_ATTRS, REGISTER_FIELDS, VISIT_FIELDS

    kinds = {*PERSON_KINDS.values(), *_kinds(REGISTER_FIELDS, VISIT_FIELDS).values(),
             *(k for attrs in REGISTER_ATTRS.values() for k in attrs.values())}
    empty = pl.Series("x", [None] * 4, dtype=pl.String)
    for kind in sorted(kinds - {"id"}):
        short, general = columns._normalize_series(empty, kind), columns._normalize_cells(empty, kind)
        for a, b in zip(short, general, strict=True):
            assert a.equals(b, check_dtypes=True, check_names=True), kind
    flags = pl.Series("n", [None, True, False, None], dtype=pl.Boolean)
    assert columns._normalize_id_series(empty, flags).equals(columns._normalize_ids(empty, flags))


def test_a_raw_table_with_empty_columns_reads_as_arrow_gives_it():
    """read_table's empty columns hold no buffers, and the frame equals polars' own reading of the table."""
    from reconcile import db
    from reconcile.normalize.stage import read_table

    con = db.connect()
    con.execute("create table t as select range as n, null::varchar as e, 'x' || range as s, null::date as d, "
                "null::varchar[] as l from range(5)")
    expected = pl.from_arrow(con.sql("select * from t").to_arrow_table())
    assert read_table(con, "t").equals(expected)
    assert read_table(con, "t").schema == expected.schema


def test_the_load_tables_checked_two_at_a_time_give_the_issues_of_one_at_a_time(tmp_path, monkeypatch):
    """validate checks the load's tables on two threads (issue 18): the same input issues, in the same order, as
    checking them one after another, on the sample county and its monitoring-era variants."""
    import duckdb

    from reconcile.config import load_config
    from reconcile.load import load
    from reconcile.resources import sample_dir
    from reconcile.validate import engine, validate

    for config_path in (sample_dir() / "reconcile.yaml", *sorted((sample_dir() / "监测期").glob("*.yaml"))):
        config = load_config(config_path)
        found = []
        for workers in (1, 2):
            monkeypatch.setattr(engine, "VALIDATE_WORKERS", workers)
            con = duckdb.connect()
            load(con, config, tmp_path)
            found.append(validate(con))
        assert found[0].height and found[0].equals(found[1]), config_path.name
