"""report.html: golden file (fixed clock), self-containment, and a real headless Chromium rendering it."""

from __future__ import annotations

import re

import pytest

from reconcile.report.data import collect
from reconcile.report.html import render_html, write_html

from ..browser import CHROMIUM, CHROMIUM_ARGS, sync_playwright_or_skip
from .fixture import CLOCK, build
from .golden import check_golden


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("html")
    con, config = build(folder)
    data = collect(con, config, CLOCK[1])
    con.close()
    return data, write_html(data, folder / "report.html")


def test_html_matches_golden(page):
    data, _ = page
    check_golden("report.html", render_html(data))


def test_html_is_self_contained_and_masked(page):
    _, path = page
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "@import" not in text and "url(" not in text
    assert "430624196907194917" not in text and "430624********4917" in text
    assert "430624196913324917" not in text  # an ID with an impossible birth date in the evidence, masked too
    assert "<svg" in text


def test_page_renders_charts_filters_and_stays_offline(page):
    sync_playwright = sync_playwright_or_skip()
    _, path = page
    url = path.resolve().as_uri()
    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            pg = browser.new_page(viewport={"width": 1400, "height": 1000})
            pg.on("request", lambda r: requests.append(r.url))
            pg.on("pageerror", lambda e: errors.append(str(e)))
            pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            pg.route("**/*", lambda route: route.continue_() if route.request.url == url else route.abort())
            pg.goto(url)
            pg.wait_for_selector("#findings tbody tr")
            # charts are drawn: bars with a real size, one heat-map cell per village × kind
            assert pg.locator("#chart-kind rect").count() >= 9
            box = pg.locator("#chart-kind").bounding_box()
            assert box and box["width"] > 200 and box["height"] > 100
            assert pg.locator("#chart-village g.bar").count() == 3
            assert pg.locator("#chart-heat rect.cell").count() == 3 * 8  # villages × kinds found
            assert pg.locator("#links table td.rate").count() == 16
            # the table: all findings, then filters narrow it
            rows = pg.locator("#findings tbody tr")
            assert rows.count() == 9
            assert "显示 9 / 9" in pg.inner_text("#count")
            pg.select_option("#f-severity", "high")
            assert rows.count() == 4
            pg.select_option("#f-severity", "")
            pg.select_option("#f-township", "文星镇")
            assert rows.count() == 4
            pg.select_option("#f-kind", "wrong_exit_guarantee")
            assert rows.count() == 1 and "住房不安全" in rows.first.inner_text()
            pg.select_option("#f-kind", "")
            pg.select_option("#f-township", "")
            pg.fill("#q", "周欣丽")
            assert rows.count() == 1 and "430624********4563" in rows.first.inner_text()
            pg.fill("#q", "没有这个人")
            assert rows.count() == 0 and "显示 0 / 9" in pg.inner_text("#count")
            pg.fill("#q", "")
            pg.select_option("#f-status", "new")
            assert rows.count() == 1
        finally:
            browser.close()
    assert errors == []
    assert requests and all(u == url for u in requests), [u for u in requests if u != url]


def test_coverage_section_lists_a_skipped_rule_and_its_reason(page):
    from dataclasses import replace

    from .fixture import sample_plan_without_survey

    data, _ = page
    text = render_html(replace(data, plan=sample_plan_without_survey()))
    section = text.split('<section id="coverage">')[1].split("</section>")[0]
    row = section.split("FC-HH-SIZE-SURVEY")[1].split("</tr>")[0]
    assert "未运行" in row and "需要「入户核查」文件" in row
    assert "<details" in section and "国家系统导出.xlsx" in section
    # the golden fixture's plan: warnings first, a column read as a header masked
    golden = render_html(data).split('<section id="coverage">')[1].split("</section>")[0]
    assert golden.index("lv-warning") < golden.index("lv-info")
    assert "430624********4917" in golden and "430624196907194917" not in golden
