"""Answers on the web page (issue 17): a finding answered in its row of the findings page, the township workbooks
sent back filled in and uploaded on the results page, the ledger's figures shown as `reconcile ledger` gives them.
Everything through HTTP, as the page's forms send it."""

from __future__ import annotations

import re
import time
import warnings
from datetime import date
from html import unescape
from pathlib import Path

import duckdb
import polars as pl
import pytest

pytest.importorskip("fastapi", reason='the web extra is not installed (pip install -e ".[web]")')
pytest.importorskip("httpx", reason="httpx is needed by fastapi's TestClient (pip install -e '.[dev]')")
openpyxl = pytest.importorskip("openpyxl")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402

from reconcile.ledger import VERDICTS  # noqa: E402
from reconcile.ledger_import import ANSWER_HEADERS, ID_HEADER  # noqa: E402
from reconcile.ledger_report import COLUMNS, ledger_summary  # noqa: E402
from reconcile.outputs import output_lock  # noqa: E402
from reconcile.web import answers, runner  # noqa: E402
from reconcile.web.app import create_app  # noqa: E402
from tests.web.pages import settings_form  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
from tests.web.pages import BASE  # noqa: E402


def _run(client, url: str, ws) -> None:
    response = client.post(url + "/settings", data=settings_form(ws.state(), region="东塘镇", year="2020", action="run"),
                           follow_redirects=False)
    assert response.headers["location"].endswith("/run"), response.text
    deadline = time.time() + 120
    while client.get(url + "/status").json()["status"] == "running":
        assert time.time() < deadline, "the run did not finish"
        time.sleep(0.1)
    assert client.get(url + "/status").json()["status"] == "done"


class Space:
    """One app, its owner's browser, a workspace with a finished run (the sample's 村级台账 and 入户核查)."""

    def __init__(self, root: Path):
        self.app = create_app(root / "web", max_upload_mb=5)
        self.client = TestClient(self.app, base_url=BASE)
        self.url = self.client.post("/w", follow_redirects=False).headers["location"]
        self.ws = self.app.state.workspaces.get(self.url.rsplit("/", 1)[-1])
        files = [("files", (n, (SAMPLE / n).read_bytes())) for n in ("村级台账.csv", "入户核查.csv")]
        assert self.client.post(self.url + "/upload", files=files).status_code == 200
        _run(self.client, self.url, self.ws)
        self.out = self.ws.out
        self.ids = pl.read_parquet(self.out / "findings.parquet")["finding_id"].to_list()
        self.untouched = self.ids[-1]  # answered by no test: the refusals are tried on it
        self.taken = {self.untouched}

    def fresh(self, n: int = 1) -> list[str]:
        """Findings no other test has answered."""
        picked = [f for f in self.ids if f not in self.taken][:n]
        assert len(picked) == n
        self.taken.update(picked)
        return picked

    def answer(self, finding_id: str, verdict: str, note: str = "", responsible: str = "", deadline: str = "",
               client: TestClient | None = None, **kw):
        return (client or self.client).post(self.url + "/answer", data={
            "finding_id": finding_id, "verdict": verdict, "note": note, "responsible": responsible,
            "deadline": deadline, "back": self.url + "/findings"}, **kw)

    def ledger(self, table: str = "finding_ledger") -> pl.DataFrame:
        with self.ws.db_lock:  # the app's own connections and this one, one at a time (as the app does)
            con = duckdb.connect(str(self.out / "reconcile.duckdb"), read_only=True)
            try:
                return pl.from_arrow(con.sql(f"select * from {table}").to_arrow_table())  # type: ignore[return-value]
            finally:
                con.close()

    def row(self, finding_id: str) -> dict:
        return self.ledger().filter(pl.col("finding_id") == finding_id).row(0, named=True)


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    return Space(tmp_path_factory.mktemp("answers"))


def _row_html(page: str, finding_id: str) -> str:
    return page.split(f'id="a-{finding_id}"')[1].split("</tr>")[0]


def _text(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


# ---- one answer in a findings row ---------------------------------------------------------------------

def test_each_verdict_is_recorded_in_the_ledger_and_shown_in_its_row(space):
    fixed, verified, progress, cannot = space.fresh(4)
    cases = [(fixed, "已整改", "已在系统中更正", "李四", "", "in_progress"),
             (verified, "核实无误", "入户核实,家庭人口与户籍一致", "", "", "verified"),
             (progress, "整改中", "已通知村里补录", "王五", "2020-01-31", "in_progress"),
             (cannot, "无法整改", "户主已去世,无法补签", "赵六", "", "in_progress")]
    for finding_id, verdict, note, person, deadline, status in cases:
        page = space.answer(finding_id, verdict, note, person, deadline)
        assert page.status_code == 200 and page.url.path.endswith("/findings")
        assert page.url.fragment == f"a-{finding_id}"  # back to the row
        row = _text(_row_html(page.text, finding_id))
        assert f"已记入整改台账:核实结果“{verdict}”" in row
        assert f"核实结果: {verdict}" in row and note in row
        recorded = space.row(finding_id)
        assert (recorded["verdict"], recorded["status"], recorded["verdict_note"]) == \
            (VERDICTS[verdict], status, note)
        assert recorded["verdict_by"] == (person or answers.WEB_BY)  # the form's 责任人, else 网页
    assert space.row(progress)["deadline"] == date(2020, 1, 31)
    page = space.client.get(space.url + "/findings").text
    # the row's status is the ledger's now, before any new run: 整改中 with its deadline, past it in red
    late = _row_html(page, progress)
    assert "st-in_progress" in late and "期限 2020-01-31" in late and '<span class="late">逾期</span>' in late
    assert 'class="late"' in page.split(f'id="a-{progress}"')[1][:30]
    assert "st-verified" in _row_html(page, verified) and "核实无误" in _row_html(page, verified)
    assert "逾期" not in _text(_row_html(page, fixed))
    # the form shows the answer to change it
    form = _row_html(page, progress).split('<form method="post"')[1]
    assert "<option selected>整改中</option>" in form and 'value="2020-01-31"' in form and "已通知村里补录" in form
    # each answer is recorded with where it came from; the filters know the new statuses
    sources = space.ledger("finding_answer").filter(pl.col("finding_id").is_in([c[0] for c in cases]))["source"]
    assert sources.len() == 4 and all(s.startswith("网页") for s in sources)
    in_progress = space.client.get(space.url + "/findings?status=in_progress").text
    assert all(f'id="a-{f}"' in in_progress for f in (fixed, progress, cannot)) and f'id="a-{verified}"' not in in_progress
    overdue = space.client.get(space.url + "/findings?status=overdue").text
    assert f'id="a-{progress}"' in overdue and f'id="a-{fixed}"' not in overdue

    # the same answer again changes nothing, and says so
    page = space.answer(verified, "核实无误", "入户核实,家庭人口与户籍一致")
    assert "与整改台账中已有的答复相同" in _text(_row_html(page.text, verified))
    assert space.ledger("finding_answer").filter(pl.col("finding_id") == verified).height == 1


@pytest.mark.parametrize(("verdict", "note", "deadline", "reason"), [
    ("核实无误", "", "", "核实结果为“核实无误”时须在说明中写明核实依据"),
    ("整改中", "已安排", "", "核实结果为“整改中”时须填写整改期限"),
    ("整改中", "已安排", "明年", "整改期限“明年”不是日期"),
    ("", "已安排", "", "请选择核实结果(已整改 / 核实无误 / 整改中 / 无法整改)"),
    ("已处理", "", "", "核实结果“已处理”不是可选值"),
], ids=["verified-without-note", "in-progress-without-deadline", "not-a-date", "no-verdict", "unknown-verdict"])
def test_a_refused_answer_says_why_and_keeps_what_was_typed(space, verdict, note, deadline, reason):
    finding_id = space.untouched
    before = space.row(finding_id)
    page = space.answer(finding_id, verdict, note, "张三", deadline)
    row = _row_html(page.text, finding_id)
    assert f"没有记入整改台账:{reason}" in _text(row)
    assert "<details class=\"answer\" open>" in row  # opened again, with the person's own values
    if note:
        assert f">{note}</textarea>" in row
    assert 'value="张三"' in row
    assert space.row(finding_id) == before


def test_an_answer_to_a_finding_not_in_the_ledger_is_refused(space):
    before = space.ledger("finding_answer").height
    page = space.answer("0000000000000000", "已整改", "已更正")
    assert "没有记入整改台账" in page.text and "问题编号 0000000000000000 不在本县的问题台账中" in page.text
    assert space.ledger("finding_answer").height == before


def test_an_answer_needs_the_workspace_token_and_the_page_itself(space):
    finding_id = space.fresh()[0]
    stranger = TestClient(space.app, base_url=BASE)
    response = space.answer(finding_id, "已整改", "已更正", client=stranger, follow_redirects=False)
    assert response.status_code == 404 and "创建它的浏览器" in response.text
    response = space.answer(finding_id, "已整改", "已更正", headers={"Origin": "null"}, follow_redirects=False)
    assert response.status_code == 403 and "拒绝了来自其他网站" in response.text
    response = space.answer(finding_id, "已整改", "已更正", headers={"Origin": "http://evil.example"},
                            follow_redirects=False)
    assert response.status_code == 403
    assert space.row(finding_id)["verdict"] is None


def test_no_answer_is_written_while_a_run_holds_the_workspace(space):
    finding_id = space.fresh()[0]
    # another program (a CLI run or import on the same folder) holds the output folder
    with output_lock(space.out):
        page = space.answer(finding_id, "已整改", "已更正")
    assert "没有记入整改台账:本工作区的核查结果正被另一个程序使用" in _text(_row_html(page.text, finding_id))
    assert space.row(finding_id)["verdict"] is None
    # a run of this workspace is starting: refused (the run would replace the ledger without the answer)
    assert runner.claim(space.ws)
    try:
        response = space.answer(finding_id, "已整改", "已更正", follow_redirects=False)
    finally:
        runner.release(space.ws)
    assert response.status_code == 303
    assert "本工作区正在核查" in _text(_row_html(space.client.get(response.headers["location"]).text, finding_id))
    assert space.row(finding_id)["verdict"] is None
    # and while answers are written, 开始核查 waits
    assert runner.hold_ledger(space.ws)
    try:
        response = space.client.post(space.url + "/settings", data=settings_form(space.ws.state(), action="run"),
                                     follow_redirects=False)
    finally:
        runner.release_ledger(space.ws)
    assert response.headers["location"].endswith("#run") and not space.ws.running
    assert "正在把核实结果写入整改台账" in space.client.get(space.url).text
    page = space.answer(finding_id, "已整改", "已更正")
    assert "已记入整改台账" in page.text and space.row(finding_id)["verdict"] == "fixed"


# ---- returned township workbooks ----------------------------------------------------------------------

def _header(sheet) -> tuple[int, dict[str, int]]:
    for row in sheet.iter_rows(min_row=1, max_row=15):
        titles = {c.value: c.column for c in row if c.value}
        if ID_HEADER in titles:
            return row[0].row, titles
    raise AssertionError("no header row")


def _fill(space: Space, book: bytes, answers_: list[tuple[str, str | None, str | None, object]],
          target: Path) -> list[tuple[str, int]]:
    """Answers (verdict, note, responsible, deadline) in rows of 问题台账 no other test answered, as Excel/WPS
    would save them; (finding id, Excel row) of each."""
    source = target.with_suffix(".orig.xlsx")
    source.write_bytes(book)
    wb = openpyxl.load_workbook(source)
    sheet = wb["问题台账"]
    at, cols = _header(sheet)
    rows = [r for r in range(at + 1, sheet.max_row + 1)
            if sheet.cell(r, cols[ID_HEADER]).value and sheet.cell(r, cols[ID_HEADER]).value not in space.taken]
    filled = []
    for row, (verdict, note, person, deadline) in zip(rows, answers_, strict=False):
        filled.append((sheet.cell(row, cols[ID_HEADER]).value, row))
        space.taken.add(filled[-1][0])
        for key, value in (("verdict", verdict), ("note", note), ("responsible", person), ("deadline", deadline)):
            sheet.cell(row, cols[ANSWER_HEADERS[key]]).value = value
    assert len(filled) == len(answers_)
    wb.save(target)
    return filled


def _township_book(space, name: str) -> bytes:
    page = space.client.get(space.url + "/results").text
    index = re.search(rf'/download/township/(\d+)" download data-download="township">下载</a> <span>{name}</span>', page)
    assert index, f"no township workbook {name} on the results page"
    response = space.client.get(f"{space.url}/download/township/{index.group(1)}")
    assert response.status_code == 200
    return response.content


def test_returned_township_workbooks_are_imported_with_every_row_accounted_for(space, tmp_path):
    from datetime import datetime

    book = _township_book(space, "核查报告_东塘镇.xlsx")
    filled = tmp_path / "东塘镇_已填写.xlsx"
    (verified, _), (late, _), (bad, bad_row) = _fill(space, book, [
        ("核实无误", "入户核实,与户籍一致", "钱七", None),
        ("整改中", "已安排补录", "孙八", datetime(2020, 3, 1)),
        ("整改中", "已安排", "周九", None)], filled)
    broken = ("坏文件.xlsx", b"this is not a workbook")
    files = [("files", (filled.name, filled.read_bytes())), ("files", broken), ("files", ("说明.docx", b"PK"))]
    response = space.client.post(space.url + "/answers/upload", files=files, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].endswith("/results#answers")
    section = _text(space.client.get(response.headers["location"]).text.split('id="answers"')[1].split("</section>")[0])
    assert "已导入 2 条答复;与台账相同未变 0 条;拒绝 3 条" in section
    # each refusal names the file (as the township named it), the sheet and the row, and why
    assert f"拒绝:东塘镇_已填写.xlsx 工作表“问题台账”第 {bad_row} 行: 核实结果为“整改中”时须填写整改期限" in section
    assert "拒绝:坏文件.xlsx 不是" in section and "Excel 工作簿" in section.split("拒绝:坏文件.xlsx")[1][:30]
    assert "拒绝:「说明.docx」不是 Excel 工作簿" in section
    assert "导入:东塘镇_已填写.xlsx 工作表“问题台账”第" in section and f"问题编号 {late} 记为“整改中”,整改期限 2020-03-01" in section
    assert (space.row(verified)["status"], space.row(verified)["verdict_by"]) == ("verified", "钱七")
    assert space.row(late)["deadline"] == date(2020, 3, 1) and space.row(bad)["verdict"] is None
    imports = space.ledger("ledger_import").sort("import_id")
    assert imports["files"][-1] == "东塘镇_已填写.xlsx" and imports["applied"][-1] == 2
    # stored in the workspace under generated names; listed on the page under the township's
    returns = space.ws.folder / answers.RETURNS
    assert sorted(p.name for p in returns.iterdir()) == ["r1.xlsx", "r2.xlsx"]
    assert "东塘镇_已填写.xlsx" in section and "导入 2 条,未变 0 条,拒绝 3 条" in section
    assert not list(space.ws.tmp.glob("answers-*")) and not list(space.ws.tmp.glob(".upload-*"))

    # the same file again changes nothing
    response = space.client.post(space.url + "/answers/upload", files=[("files", (filled.name, filled.read_bytes()))])
    section = _text(response.text.split('id="answers"')[1].split("</section>")[0])
    assert "已导入 0 条答复;与台账相同未变 2 条;拒绝 1 条" in section
    assert space.ledger("finding_answer").filter(pl.col("finding_id") == verified).height == 1


def test_a_hostile_workbook_is_that_uploads_refusal_and_the_server_carries_on(space):
    """A 2 KB .xlsx whose sheet claims XFD1048576: refused by the reader's guard or, without it, the end of
    the child process reading it — either way a Chinese line naming the file, no server path, ledger unchanged."""
    from tests.reliability.test_web_access import xlsx_claiming_the_whole_sheet

    before = space.ledger("finding_answer").height
    response = space.client.post(space.url + "/answers/upload",
                                 files=[("files", ("东塘镇_交回.xlsx", xlsx_claiming_the_whole_sheet()))])
    assert response.status_code == 200
    section = _text(response.text.split('id="answers"')[1].split("</section>")[0])
    refusals = section.split("拒绝:")[1:]
    assert any("东塘镇_交回.xlsx" in r[:40] for r in refusals) or "读取交回的报告时,读取程序" in section, section
    assert "workspaces" not in section and str(space.ws.folder) not in response.text
    assert space.ledger("finding_answer").height == before
    assert space.client.get(space.url + "/findings").status_code == 200


def test_a_reading_process_that_dies_is_said_in_chinese(space, tmp_path, monkeypatch):
    """The child reading the workbooks killed (out of memory, a reader's abort): nothing applied, the page says so."""
    import sys

    from reconcile.web import worker

    book = _township_book(space, "核查报告_文星镇.xlsx")
    filled = tmp_path / "文星镇.xlsx"
    [(finding_id, _)] = _fill(space, book, [("已整改", "已更正", "郑一", None)], filled)
    monkeypatch.setattr(worker, "command", lambda kind, *args: [sys.executable, "-c",
                                                                 "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"])
    response = space.client.post(space.url + "/answers/upload", files=[("files", (filled.name, filled.read_bytes()))])
    assert "没有导入,整改台账没有改动:读取交回的报告时,读取程序被系统强行终止" in _text(response.text)
    assert space.row(finding_id)["verdict"] is None and not space.ws.answering
    monkeypatch.undo()
    response = space.client.post(space.url + "/answers/upload", files=[("files", (filled.name, filled.read_bytes()))])
    assert "已导入 1 条答复" in _text(response.text) and space.row(finding_id)["verdict"] == "fixed"


def test_an_import_is_refused_while_the_folder_is_held(space, tmp_path):
    book = _township_book(space, "核查报告_南湖洲镇.xlsx")
    filled = tmp_path / "南湖洲镇.xlsx"
    [(finding_id, _)] = _fill(space, book, [("已整改", "已更正", "吴十", None)], filled)
    with output_lock(space.out):
        response = space.client.post(space.url + "/answers/upload", files=[("files", (filled.name, filled.read_bytes()))])
    assert "没有导入,整改台账没有改动:本工作区的核查结果正被另一个程序使用" in _text(response.text)
    assert space.row(finding_id)["verdict"] is None
    response = space.client.post(space.url + "/answers/upload", files=[("files", (filled.name, filled.read_bytes()))])
    assert "已导入 1 条答复" in _text(response.text) and space.row(finding_id)["verdict"] == "fixed"


# ---- the ledger's figures on the results page ---------------------------------------------------------

def _table(page: str, table_id: str) -> list[list[str]]:
    html = page.split(f'id="{table_id}"')[1].split("</table>")[0]
    return [[_text(c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", tr, re.S)]
            for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", html, re.S)]


def test_the_results_page_shows_the_figures_of_reconcile_ledger(space):
    finding_id = space.fresh()[0]
    space.answer(finding_id, "整改中", "已安排", "", "2020-02-01")  # an overdue one at least
    summary = ledger_summary(space.out / "reconcile.duckdb")
    page = space.client.get(space.url + "/results").text

    def cells(r: dict) -> list[str]:
        return [f"{(r[k] or 0) * 100:.1f}%" if k == "rate" else str(r[k]) for k, _ in COLUMNS]

    for table_id, key in (("by-township", "by_township"), ("by-village", "by_village")):
        rows = _table(page, table_id)
        assert rows[0][1:] == [head for _, head in COLUMNS]  # 核实无误, 整改中, 逾期 … as the CLI titles them
        assert rows[1:-1] == [[r["name"] or "(未标注)", *cells(r)] for r in summary[key]]
        assert rows[-1] == ["合计", *cells(summary["total"])]
    total = summary["total"]
    assert total["verified"] >= 1 and total["in_progress"] >= 1 and total["overdue"] >= 1
    cards = _text(page.split('id="progress"')[1].split('<p class="hint">')[0])
    assert f"{total['rate'] * 100:.1f}% 整改率" in cards and f"{total['overdue']} 其中逾期" in cards
    assert f"逾期未整改({len(summary['overdue'])} 个)" in page
    listed = page.split('id="overdue"')[1].split("</table>")[0]
    assert [row[-1] for row in _table(listed, "overdue-list")[1:]] == [r["finding_id"] for r in summary["overdue"]]
    assert finding_id in listed


def test_the_next_run_keeps_the_answers_given_on_the_page(space):
    """Last in this file: it runs the workspace again."""
    verified, progress = space.fresh(2)
    space.answer(verified, "核实无误", "入户核实无误")
    space.answer(progress, "整改中", "已安排", "", "2099-12-31")
    _run(space.client, space.url, space.ws)
    findings = pl.read_parquet(space.out / "findings.parquet")
    status = dict(zip(findings["finding_id"], findings["status"], strict=True))
    assert status[verified] == "verified" and status[progress] == "in_progress"
    page = space.client.get(space.url + "/findings").text
    assert "st-verified" in _row_html(page, verified) and "期限 2099-12-31" in _row_html(page, progress)
    assert "逾期" not in _text(_row_html(page, progress))
