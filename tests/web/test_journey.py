"""The whole journey of a township officer in a real browser (Chromium driven by Playwright).

Upload the sample county, fix the mappings the page flags, run with visible progress, filter the
findings by village and kind, answer one of them (核实结果, straight into the ledger), re-upload a corrected
archive and see what was closed (销号) and the rectification figures, download the workbook and read it back.
With RECONCILE_SCREENSHOTS=1 the screenshots go to docs/web-*.png (committed); otherwise to the test's
temporary folder.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path
from urllib.parse import quote

import polars as pl
import pytest

from ..browser import CHROMIUM, CHROMIUM_ARGS, sync_playwright_or_skip

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
FILES = ["国家系统导出.xlsx", "村级台账.csv", "扶贫手册.xlsx", "入户核查.csv", "走访记录.csv"]
# a 民政 register exported with its name and ID columns headed as the head's (户主姓名, 户主身份证号): read as
# it says, it could be used only at household level; the page flags the file, the officer picks the column
FIX_FILE, FIX_COLUMN, FIX_NAME = "民政特困.csv", "户主身份证号", "户主姓名"


def _playwright():
    sync_playwright = sync_playwright_or_skip()
    try:
        import uvicorn  # noqa: F401

        from reconcile.web.app import create_app  # noqa: F401
    except ImportError:
        pytest.skip('the web extra is not installed (pip install -e ".[web]")')
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    _playwright()
    import uvicorn

    from reconcile.web.app import create_app

    port = _free_port()
    app = create_app(tmp_path / "web", allowed_hosts=["127.0.0.1", "localhost", "::1"])  # as `reconcile serve`
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                        log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 15
    while not srv.started:
        assert thread.is_alive() and time.time() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def _shots(tmp_path) -> Path:
    if os.environ.get("RECONCILE_SCREENSHOTS"):
        folder = ROOT / "docs"
    else:
        folder = tmp_path / "shots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _register_headed_as_the_heads(folder: Path) -> Path:
    text = (SAMPLE / "部门数据" / FIX_FILE).read_bytes().decode("gb18030")
    header, rest = text.split("\n", 1)
    assert header.startswith("姓名,公民身份号码,")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FIX_FILE
    path.write_bytes((header.replace("姓名,公民身份号码", f"{FIX_NAME},{FIX_COLUMN}", 1) + "\n" + rest)
                     .encode("gb18030"))
    return path


def _corrected_archive(folder: Path) -> Path:
    """村级台账.csv with one household's head corrected (李玉 → 陆海, as in the other sources)."""
    text = (SAMPLE / "村级台账.csv").read_bytes().decode("gb18030")
    assert "李玉,430624199503143607" in text
    fixed = text.replace("李玉,430624199503143607", "陆海,430624199001192513")
    path = folder / "村级台账.csv"
    path.write_bytes(fixed.encode("gb18030"))
    return path


def _page_findings(tmp_path: Path, url: str) -> set[str]:
    wid = url.split("/w/")[1].split("/")[0]
    out = tmp_path / "web" / "workspaces" / wid / "out"
    return set(pl.read_parquet(out / "findings.parquet")["finding_id"])


def _cli_findings(download, folder: Path, uploads: list[Path]) -> set[str]:
    """`reconcile run` on the downloaded reconcile.yaml, with the uploaded files beside it under their own names."""
    from typer.testing import CliRunner

    from reconcile.cli import app

    folder.mkdir()
    for path in uploads:
        shutil.copy(path, folder / path.name)
    download.save_as(folder / "reconcile.yaml")
    result = CliRunner().invoke(app, ["run", str(folder / "reconcile.yaml"), "--quiet"])
    assert result.exit_code == 0, result.output
    return set(pl.read_parquet(folder / "out" / "findings.parquet")["finding_id"])


def test_township_officer_journey(server, tmp_path):
    sync_playwright = _playwright()
    shots = _shots(tmp_path)
    uploads = [SAMPLE / n for n in FILES] + [p for p in sorted((SAMPLE / "部门数据").glob("*.csv"))
                                             if p.name != FIX_FILE]
    uploads.append(_register_headed_as_the_heads(tmp_path / "upload"))
    outside: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True,
                                          locale="zh-CN")
            page = context.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

            def only_local(route):
                if route.request.url.startswith(server):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            page.route("**/*", only_local)

            # 1. start a workspace, upload every file of the sample county
            page.goto(server + "/")
            page.click("text=开始新的核查")
            page.wait_for_selector("form.upload")
            page.set_input_files("form.upload input[type=file]", [str(p) for p in uploads])
            assert "已选 18 个文件" in page.inner_text("[data-picked]")
            page.click("form.upload button[type=submit]")
            page.wait_for_selector("article.card")
            assert page.locator("article.card").count() == 18
            archive = page.locator("article.card", has_text="村级台账.csv")
            assert "GB18030" in archive.inner_text() and "表头在第 1 行" in archive.inner_text()
            system = page.locator("article.card", has_text="国家系统导出.xlsx")
            assert "表头在第 2 行" in system.inner_text()
            assert system.locator("select[name^=role-]").input_value() == "system"
            page.set_viewport_size({"width": 1400, "height": 1480})
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(shots / "web-1-upload.png"))
            page.set_viewport_size({"width": 1400, "height": 900})

            # region and year are pre-filled from the export (县, 收入年度)
            assert page.input_value("input[name=region]") == "湘阴县"
            assert page.input_value("input[name=year]") == "2020"

            # 2. the page flags the register without an ID column (it would be used at household level, as the
            # run plan does) and every file with a column it is not sure of; pick the ID column from the
            # drop-down, tick the columns waiting for confirmation
            proposals = page.locator("input[type=checkbox][name^=confirm-]")
            assert page.locator("article.card.warn").count() == 1 + page.locator(
                "article.card.warn", has=proposals).count()
            card = page.locator("article.card", has_text=FIX_FILE)
            assert f"将按户主证件号码列「{FIX_COLUMN}」在户一级使用" in card.inner_text()
            card.locator("tr", has_text=FIX_COLUMN).locator("select").select_option("id_number")
            card.locator("tr", has_text=FIX_NAME).locator("select").select_option("name")  # optional, for the evidence
            for box in proposals.all():
                box.check()
            page.click("#run button[value=save]")
            page.wait_for_selector("article.card")
            assert page.locator("article.card.warn").count() == 0
            card = page.locator("article.card", has_text=FIX_FILE)
            assert "可以使用" in card.inner_text()
            card.locator("summary").click()
            row = card.locator("tr", has_text=FIX_COLUMN)
            assert row.locator("select").input_value() == "id_number" and "已手动修改" in row.inner_text()
            card.scroll_into_view_if_needed()
            card.screenshot(path=str(shots / "web-2-mapping.png"))

            # 3. run: progress page, then the results
            page.click("button[name=action][value=run]")
            page.wait_for_selector("#progress")
            page.wait_for_selector("ol.stages li.done", timeout=20_000)
            page.screenshot(path=str(shots / "web-3-progress.png"))
            page.wait_for_url("**/results", timeout=120_000)
            assert "湘阴县 2020 年核查结果" in page.inner_text("h1")
            assert "第一次核查" in page.inner_text("#rectify")
            assert "规则共" in page.inner_text("#coverage")
            page.locator("#coverage").screenshot(path=str(shots / "web-3b-coverage.png"))
            first_run = _page_findings(tmp_path, page.url)

            # the reconcile.yaml the page wrote runs the same check from the command line
            with page.expect_download() as info:
                page.click("a[data-download=yaml]")
            assert info.value.suggested_filename == "reconcile.yaml"
            assert _cli_findings(info.value, tmp_path / "cli", uploads) == first_run

            # 4. browse: a village, then a kind; each source's values side by side
            page.click("text=按村、按问题类型查看问题清单")
            page.wait_for_selector("table.findings")
            page.locator("aside a.town", has_text="文星镇").click()
            # village names repeat across towns: the link that carries this town
            page.locator(f'aside a.village[href*="township={quote("文星镇")}"]', has_text="洞庭村").click()
            page.wait_for_selector("text=文星镇·洞庭村")
            page.select_option("select[name=kind]", "wrong_exit_guarantee")
            page.wait_for_url("**kind=wrong_exit_guarantee**")
            text = page.inner_text("table.findings")
            # an exited household whose child the student register shows as dropped out
            assert "刘浩" in text and "辍学" in text and "教育学籍" in text
            assert page.locator("table.findings tbody tr").count() == 1
            assert "43062419431003273X" not in page.content() and "430624********273X" in text  # IDs masked
            # full IDs only after a confirmation (recorded); the filters stay, and masking is one click back
            page.click("[data-unmask]")
            page.wait_for_selector("form[action$='/ids']")
            assert "43062419431003273X" not in page.content()
            page.check("form[action$='/ids'] input[name=confirm]")
            page.click("form[action$='/ids'] button[type=submit]")
            page.wait_for_url("**ids=**")
            assert "kind=wrong_exit_guarantee" in page.url
            assert "43062419431003273X" in page.inner_text("table.findings")
            page.click("text=证件号码打码")
            page.wait_for_url(lambda url: "ids=" not in url)
            assert "43062419431003273X" not in page.content()
            page.select_option("select[name=kind]", "")  # the whole village: each source's values side by side
            page.wait_for_url(lambda url: "kind=wrong" not in url)
            assert page.locator("table.findings tbody tr").count() == 8
            heads = page.inner_text("table.findings thead")
            assert all(label in heads for label in ("国家系统", "村级档案", "扶贫手册"))
            page.screenshot(path=str(shots / "web-4-findings.png"), full_page=True)
            # a township office's 1366×768 screen: every column of the table, 部门数据 included, is on screen —
            # for this village and for the whole county's first page
            page.set_viewport_size({"width": 1366, "height": 768})
            for url in (page.url, page.url.split("?")[0]):
                page.goto(url)
                page.wait_for_selector("table.findings")
                assert "部门数据" in page.inner_text("table.findings thead")
                fit = page.evaluate("""() => ({page: document.documentElement.scrollWidth,
                    right: Math.max(...[...document.querySelectorAll('table.findings th')]
                                    .map(th => th.getBoundingClientRect().right))})""")
                assert fit["page"] <= 1366 and fit["right"] <= 1366, (url, fit)
            page.screenshot(path=str(shots / "web-4b-findings-1366.png"))

            # 4b. answer a finding in its row (核实结果 → the ledger at once); the table still fits 1366 px with
            # the form open
            row = page.locator("table.findings tbody tr").first
            answered = (row.get_attribute("id") or "").removeprefix("a-")
            row.locator("details.answer summary").click()
            row.locator("select[name=verdict]").select_option("整改中")
            row.locator("textarea[name=note]").fill("已通知村里补录")
            row.locator("input[name=responsible]").fill("张三")
            row.locator("input[name=deadline]").fill("2099-12-31")
            fit = page.evaluate("""() => Math.max(document.documentElement.scrollWidth,
                ...[...document.querySelectorAll('table.findings th')].map(th => th.getBoundingClientRect().right))""")
            assert fit <= 1366, fit
            row.locator("form.answer button[type=submit]").click()
            page.wait_for_selector(f"#a-{answered} [data-answer-result]")
            row = page.locator(f"#a-{answered}")
            assert "已记入整改台账" in row.inner_text() and "期限 2099-12-31" in row.inner_text()
            assert "整改中" in row.locator(".st").inner_text() and "责任人 张三" in row.inner_text()
            row.screenshot(path=str(shots / "web-4c-answer.png"))
            page.set_viewport_size({"width": 1400, "height": 900})

            # 5. rectification: the corrected archive replaces the old one (same name); run again
            page.goto(page.url.split("/findings")[0])
            page.set_input_files("form.upload input[type=file]", str(_corrected_archive(tmp_path)))
            page.click("form.upload button[type=submit]")
            page.wait_for_selector("article.card")
            assert page.locator("article.card").count() == 18
            page.click("button[name=action][value=run]")
            page.wait_for_url("**/results", timeout=120_000)
            rectify = page.inner_text("#rectify")
            assert "本次销号" in rectify and "陆海" in rectify
            # the answer given on the page was carried into this run; the figures are `reconcile ledger`'s
            assert "整改中" in page.inner_text("#by-township thead") and "逾期" in page.inner_text("#by-township thead")
            assert page.locator("a.stat[href$='status=in_progress'] b").inner_text() != "0"
            page.locator("#rectify").screenshot(path=str(shots / "web-5-rectification.png"))

            # 6. download the workbook and read it back
            with page.expect_download() as info:
                page.click("a[data-download=workbook]")
            download = info.value
            assert download.suggested_filename.endswith("核查报告.xlsx")
            saved = tmp_path / "downloaded.xlsx"
            download.save_as(saved)
            assert page.locator("a[data-download=township]").count() == 3
            page.locator("#downloads").screenshot(path=str(shots / "web-6-download.png"))

            # 7. the workspace belongs to this browser: listed on its start page, not openable from another one
            workspace_url = page.url.split("/results")[0]
            page.goto(server + "/")
            assert page.locator(f'a[href="{workspace_url[len(server):]}"]').count() == 1
            stranger = browser.new_context(locale="zh-CN").new_page()
            answer = stranger.goto(workspace_url)
            assert answer is not None and answer.status == 404
            assert "创建它的浏览器" in stranger.inner_text("main")
            stranger.goto(server + "/")
            assert "继续以前的核查" not in stranger.inner_text("main")
        finally:
            browser.close()
    ledger = pl.read_excel(saved, sheet_name="问题台账")
    texts = ledger.select(pl.concat_str(pl.all().cast(pl.String).fill_null(""), separator=" ").alias("t"))["t"]
    assert texts.str.contains("刘浩").any() and texts.str.contains("辍学").any()
    assert texts.str.contains("吴菊桂").any() and texts.str.contains("湘F·Y868J").any()
    assert not texts.str.contains("李玉").any()  # closed after the corrected archive
    assert outside == [], f"the pages asked for something outside the app: {outside}"
    assert errors == [], f"browser errors: {errors}"
