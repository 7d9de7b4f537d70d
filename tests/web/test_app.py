"""The web app through its HTTP interface (no browser): uploads, mapping, reconcile.yaml, limits, isolation, errors."""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import pytest
import yaml

pytest.importorskip("fastapi", reason='the web extra is not installed (pip install -e ".[web]")')
pytest.importorskip("httpx", reason="httpx is needed by fastapi's TestClient (pip install -e '.[dev]')")

with warnings.catch_warnings():  # starlette 1.x: "Using httpx with starlette.testclient is deprecated"
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from reconcile.cli import app as cli  # noqa: E402
from reconcile.config import load_config  # noqa: E402
from reconcile.errors import InputError  # noqa: E402
from reconcile.load.readers import read_table  # noqa: E402
from reconcile.web.app import create_app  # noqa: E402
from tests.web.pages import new_workspace, settings_form, upload, wait_for_run  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
BASE = "http://127.0.0.1:8765"  # the Host check is on for every app: a loopback name, as `reconcile serve` shows


@pytest.fixture
def web(tmp_path):
    workdir = tmp_path / "web"
    client = TestClient(create_app(workdir, max_upload_mb=2), base_url=BASE)
    client.workdir = workdir  # type: ignore[attr-defined]
    return client






def _state(client, url: str) -> dict:
    return client.app.state.workspaces.get(url.rsplit("/", 1)[-1]).state()






def test_upload_reads_encoding_header_and_suggests_roles_and_fields(web):
    url = new_workspace(web)
    page = upload(web, url, SAMPLE / "村级台账.csv", SAMPLE / "国家系统导出.xlsx", SAMPLE / "部门数据" / "民政低保.csv")
    assert page.status_code == 200 and "已上传 3 个文件" in page.text
    files = {f["name"]: f for f in _state(web, url)["files"]}
    archive, system, dibao = files["村级台账.csv"], files["国家系统导出.xlsx"], files["民政低保.csv"]
    assert (archive["role"], archive["level"], archive["encoding"], archive["header_row"]) == \
        ("archive", "household", "gb18030", 1)
    assert (system["role"], system["level"], system["encoding"], system["header_row"]) == ("system", "person", None, 2)
    assert dibao["role"] == "register:dibao"
    assert archive["stored"] == "f1.csv" and system["stored"] == "f2.xlsx"  # generated names
    assert "编码 GB18030" in page.text and "表头在第 2 行" in page.text
    # the suggested mapping is the loader's (profile: auto): 户主 → 户主姓名, 村委会 → 村
    card = page.text.split('id="f1"')[1].split("</article>")[0]
    assert re.search(r"户主</td>.*?<option value=\"head_name\" selected>", card, re.S)
    assert re.search(r"村委会</td>.*?<option value=\"village\" selected>", card, re.S)
    # ID numbers in the sample values are masked
    assert "430624199001192513" not in page.text and "430624********2513" in page.text
    # region and year come from the export (县, 收入年度)
    state = _state(web, url)
    assert state["region"] == "湘阴县" and state["year"] == 2020


def test_fixed_mapping_is_saved_and_written_to_a_yaml_the_cli_accepts(web, tmp_path):
    url = new_workspace(web)
    housing = SAMPLE / "部门数据" / "住建危房鉴定.csv"
    page = upload(web, url, SAMPLE / "入户核查.csv", housing)
    # as the run plan does: the 住建 register is kept by the head's ID, so its head-ID column is its ID
    assert "缺少必需的列" not in page.text and "在户一级使用" not in page.text
    state = _state(web, url)
    entry = next(f for f in state["files"] if f["name"] == housing.name)
    card = page.text.split(f'id="f{entry["fid"]}"')[1].split("</article>")[0]
    row = card.split("户主身份证号</td>")[1].split("</tr>")[0]
    assert "按户主证件号码核对" in row and '<option value="id_number" selected>' in row
    # the person names the head's name column as the register's 姓名 (for the evidence)
    index = entry["headers"].index("户主姓名")
    page = web.post(url + "/settings", data=settings_form(state, region="东塘镇", **{f"map-{entry['fid']}-{index}": "name"}))
    assert "已手动修改" in page.text
    assert _state(web, url)["files"][1]["overrides"] == {"户主姓名": "name"}

    text = web.get(url + "/reconcile.yaml").text
    data = yaml.safe_load(text)
    assert data["registers"]["housing"]["columns"]["户主身份证号"] == "id_number"
    assert data["registers"]["housing"]["path"] == housing.name and data["registers"]["housing"]["profile"] == "none"
    assert data["sources"]["survey"]["role"] == "survey" and data["sources"]["survey"]["columns"]["户主姓名"] == "head_name"
    # beside the user's own files, the same yaml is a valid config for the CLI
    folder = tmp_path / "cli"
    folder.mkdir()
    shutil.copy(SAMPLE / "入户核查.csv", folder)
    shutil.copy(housing, folder)
    (folder / "reconcile.yaml").write_text(text, encoding="utf-8")
    config = load_config(folder / "reconcile.yaml")
    assert config.registers["housing"].columns["户主身份证号"] == "id_number"
    assert config.registers["housing"].columns["户主姓名"] == "name"
    assert CliRunner().invoke(cli, ["check-config", str(folder / "reconcile.yaml")]).exit_code == 0


def test_an_uploaded_reconcile_yaml_reuses_roles_and_mappings(web):
    first = new_workspace(web)
    housing = SAMPLE / "部门数据" / "住建危房鉴定.csv"
    upload(web, first, SAMPLE / "入户核查.csv", housing)
    state = _state(web, first)
    entry = state["files"][1]
    index = entry["headers"].index("户主身份证号")
    web.post(first + "/settings", data=settings_form(state, region="东塘镇", year="2021",
                                             **{f"role-{entry['fid']}": "register:housing",
                                                f"map-{entry['fid']}-{index}": "id_number"}))
    saved = web.get(first + "/reconcile.yaml").content

    second = new_workspace(web)
    page = upload(web, second, ("reconcile.yaml", saved))
    assert "已按「reconcile.yaml」设置" in page.text
    page = upload(web, second, SAMPLE / "入户核查.csv", housing)
    state = _state(web, second)
    assert (state["region"], state["year"]) == ("东塘镇", 2021)
    reused = next(f for f in state["files"] if f["name"] == housing.name)
    assert reused["role"] == "register:housing" and reused["overrides"]["户主身份证号"] == "id_number"
    assert "缺少必需的列" not in page.text
    assert web.get(second + "/reconcile.yaml").content == saved


def test_uploads_over_the_limit_get_a_chinese_413_and_leave_nothing(web):
    url = new_workspace(web)
    big = ("村级台账.csv", b"a,b\n" + b"1,2\n" * (700 * 1024))  # 2.8 MB > 2 MB
    response = upload(web, url, big)
    assert response.status_code == 413
    assert "上传的文件太大" in response.text and "2 MB" in response.text
    folder = web.workdir / "workspaces" / url.rsplit("/", 1)[-1]
    assert list((folder / "uploads").iterdir()) == [] and list((folder / "tmp").iterdir()) == []
    assert _state(web, url)["files"] == []


def test_client_paths_never_reach_the_disk(web, tmp_path):
    url = new_workspace(web)
    body = (SAMPLE / "入户核查.csv").read_bytes()
    page = upload(web, url, ("../../../evil.csv", body), ("..\\..\\x\\核查.csv", body))
    assert page.status_code == 200
    state = _state(web, url)
    assert [f["name"] for f in state["files"]] == ["evil.csv", "核查.csv"]
    assert [f["stored"] for f in state["files"]] == ["f1.csv", "f2.csv"]
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert all(p.startswith("web/workspaces/") for p in written), written
    assert not any("evil" in p for p in written)
    # ids and file numbers from URLs are checked before they become paths
    for bad in ("/w/..%2F..%2Fetc", "/w/short", "/w/" + "a" * 80, "/w/AAAAAAAAAAAAAAAAAAAAAA",
                url + "/download/township/0", url + "/download/..%2Fstate.json", url + "/download/workbook"):
        response = web.get(bad)
        assert response.status_code == 404, bad
        assert "找不到" in response.text or "还没有核查结果" in response.text
    assert web.post(url + "/files/abc/delete").status_code == 400
    # an unsupported file type is refused by name, not stored
    page = upload(web, url, ("说明.docx", b"PK\x03\x04"))
    assert "「说明.docx」不是可以读取的文件类型" in page.text
    assert len(_state(web, url)["files"]) == 2


def test_two_workspaces_keep_their_own_files_and_deleting_one_leaves_the_other(web):
    a, b = new_workspace(web), new_workspace(web)
    assert a != b
    upload(web, a, SAMPLE / "村级台账.csv")
    upload(web, b, SAMPLE / "入户核查.csv", SAMPLE / "走访记录.csv")
    page_a, page_b = web.get(a).text, web.get(b).text
    assert "村级台账.csv" in page_a and "入户核查.csv" not in page_a
    assert "入户核查.csv" in page_b and "村级台账.csv" not in page_b
    assert [f["name"] for f in _state(web, a)["files"]] == ["村级台账.csv"]
    index = web.get("/").text
    assert a.rsplit("/", 1)[-1] in index and b.rsplit("/", 1)[-1] in index
    response = web.post(b + "/delete", follow_redirects=False)
    assert response.status_code == 303
    assert not (web.workdir / "workspaces" / b.rsplit("/", 1)[-1]).exists()
    assert web.get(b).status_code == 404
    assert web.get(a).status_code == 200 and "村级台账.csv" in web.get(a).text


def test_a_bad_file_shows_the_same_message_as_the_cli(web, tmp_path):
    url = new_workspace(web)
    page = upload(web, url, ("国家系统导出.xlsx", b"this is not a workbook"))
    bad = tmp_path / "国家系统导出.xlsx"
    bad.write_bytes(b"this is not a workbook")
    with pytest.raises(InputError) as cli_error:
        read_table(bad)
    expected = str(cli_error.value).replace(str(bad), "「国家系统导出.xlsx」")
    assert "无法读取" in page.text and expected in page.text.replace("&#34;", '"').replace("&#39;", "'")
    assert str(web.workdir) not in page.text  # no server paths on the page
    # it cannot be run: the page says what to do
    page = web.post(url + "/settings", data=settings_form(_state(web, url), action="run"))
    assert "无法读取" in page.text and "不使用此文件" in page.text


def test_a_run_error_is_the_clis_message_on_the_page(web, tmp_path):
    """A survey whose head-name column is set to nothing: the load stage stops, as `reconcile run` does."""
    url = new_workspace(web)
    survey = SAMPLE / "入户核查.csv"
    upload(web, url, survey)
    state = _state(web, url)
    index = state["files"][0]["headers"].index("户主姓名")
    form = settings_form(state, region="湘阴县", **{"map-1-" + str(index): ""})
    web.post(url + "/settings", data=form)
    response = web.post(url + "/settings", data={**settings_form(_state(web, url)), "action": "run"}, follow_redirects=False)
    assert response.headers["location"].endswith("/run")
    status = wait_for_run(web, url)
    assert status["status"] == "failed"
    # the same config through the CLI
    folder = tmp_path / "cli"
    folder.mkdir()
    shutil.copy(survey, folder)
    (folder / "reconcile.yaml").write_text(web.get(url + "/reconcile.yaml").text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["run", str(folder / "reconcile.yaml"), "--quiet"])
    assert result.exit_code == 2
    cli_message = "".join(result.output.replace("错误:", "").split())  # rich wraps lines anywhere
    page_message = "".join(status["error"].split())
    assert "缺少必需的列「户主姓名」" in page_message
    # the CLI's words, with the person's file names for the paths, and how to fix it on the page
    own = page_message.replace("「入户核查.csv」", str(folder / "入户核查.csv")).replace(
        "配置文件reconcile.yaml", "配置文件" + str(folder / "reconcile.yaml"))
    assert own.startswith(cli_message)
    assert page_message.endswith("在下拉框中为这一列选择提示中的标准字段,再开始核查。")
    page = web.get(url)
    assert "上次核查没有完成" in page.text and "缺少必需的列" in page.text


def test_blocking_problems_are_listed_before_a_run(web):
    url = new_workspace(web)
    upload(web, url, ("我的表.csv", "户主,村\n张三,大田村\n".encode()))
    state = _state(web, url)
    assert state["files"][0]["role"] == ""
    page = web.post(url + "/settings", data=settings_form(state, region="", action="run"))
    assert "请填写地区名称" in page.text and "请为文件「我的表.csv」选择用途" in page.text
    assert "至少需要一个数据来源" in page.text


def test_cross_site_posts_are_refused_and_pages_are_locked_down(web):
    response = web.post("/w", headers={"Origin": "http://evil.example"}, follow_redirects=False)
    assert response.status_code == 403 and "拒绝" in response.text
    response = web.get("/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", response.text)
    assert web.get("/static/app.css").status_code == 200 and web.get("/static/app.js").status_code == 200


def test_only_local_host_names_are_served_when_asked(tmp_path):
    """DNS rebinding: a page on another site that resolves its own name to 127.0.0.1 is refused."""
    app = create_app(tmp_path / "web", allowed_hosts=["127.0.0.1", "localhost", "::1"])
    assert TestClient(app, base_url="http://127.0.0.1:8765").get("/").status_code == 200
    assert TestClient(app, base_url="http://localhost:8765").get("/").status_code == 200
    refused = TestClient(app, base_url="http://rebind.example:8765").get("/")
    assert refused.status_code == 400 and "reconcile serve" in refused.text


def test_serve_help_is_chinese_and_a_busy_port_is_a_clear_error(tmp_path):
    import socket

    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0 and "浏览器" in result.output and "--max-upload-mb" in result.output
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", "--port", str(port), "--workdir", str(tmp_path / "w")])
    assert result.exit_code == 2 and "端口" in result.output


def test_serve_without_the_web_extra_says_how_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn → ImportError
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 2 and "reconcile[web]" in result.output and "uvicorn" in result.output


def test_two_workspaces_run_at_once_on_any_subset_of_files(web):
    """Each run reads only its own workspace: a village archive with the survey, and the survey alone."""
    a, b = new_workspace(web), new_workspace(web)
    upload(web, a, SAMPLE / "村级台账.csv", SAMPLE / "入户核查.csv")
    upload(web, b, SAMPLE / "入户核查.csv")
    for url, region in ((a, "东塘镇"), (b, "文星镇")):
        response = web.post(url + "/settings", data=settings_form(_state(web, url), region=region, year="2020", action="run"),
                            follow_redirects=False)
        assert response.headers["location"].endswith("/run"), web.get(url).text
    done = {url: wait_for_run(web, url) for url in (a, b)}
    assert all(s["status"] == "done" for s in done.values()), done
    results_a, results_b = web.get(a + "/results").text, web.get(b + "/results").text
    assert "东塘镇 2020 年核查结果" in results_a and "文星镇 2020 年核查结果" in results_b
    assert "第一次核查" in results_a and "第一次核查" in results_b
    findings_a = web.get(a + "/findings").text
    assert "村级档案" in findings_a and "文星镇 2020" not in findings_a
    for url in (a, b):
        out = web.workdir / "workspaces" / url.rsplit("/", 1)[-1] / "out"
        assert (out / "核查报告.xlsx").exists() and (out / "reconcile.duckdb").exists()
    workbook = web.get(a + "/download/workbook")
    assert workbook.status_code == 200 and workbook.content[:2] == b"PK"
    assert "filename*=utf-8''" in workbook.headers["content-disposition"]


def test_results_page_says_which_checks_did_not_run_and_why(web):
    """The survey alone with a register that has only the head's ID: most checks cannot run; the page says
    which, why, and what the run did with the register."""
    url = new_workspace(web)
    dibao = (SAMPLE / "部门数据" / "民政低保.csv").read_bytes().decode("gb18030")
    header, rest = dibao.split("\n", 1)
    header = header.replace("身份证号", "户主身份证号").replace("姓名", "户主姓名")
    upload(web, url, SAMPLE / "入户核查.csv", ("民政低保.csv", (header + "\n" + rest).encode("gb18030")))
    response = web.post(url + "/settings", data=settings_form(_state(web, url), region="文星镇", year="2020", action="run"),
                        follow_redirects=False)
    assert response.headers["location"].endswith("/run")
    assert wait_for_run(web, url)["status"] == "done"
    page = web.get(url + "/results").text
    section = page.split('id="coverage"')[1].split("</section>")[0]
    assert re.search(r"规则共 \d+ 条:完整运行 \d+ 条,部分运行 \d+ 条,未运行 \d+ 条", section)
    visit = section.split("帮扶走访频次不足")[1].split("</tr>")[0]
    assert "未运行" in visit and "走访记录" in visit and "没有提供" in visit
    assert re.search(r"部分运行</td><td[^>]*>未核查:", section)
    # the plan's notice, with the person's file name
    assert "民政低保" in section and "在户一级使用" in section
    assert "/run/" not in section and "workspaces" not in section


def test_a_proposed_mapping_is_used_only_once_the_person_confirms_it(web):
    url = new_workspace(web)
    text = (SAMPLE / "入户核查.csv").read_bytes().decode("utf-8-sig").replace("核查日期", "核实日期", 1)
    page = upload(web, url, ("入户核查.csv", text.encode("utf-8")))
    entry = _state(web, url)["files"][0]
    index = entry["headers"].index("核实日期")
    card = page.text.split(f'id="f{entry["fid"]}"')[1].split("</article>")[0]
    row = card.split("核实日期</td>")[1].split("</tr>")[0]
    # shown pre-filled as a choice to tick, with how it was recognised, but not applied
    assert "待确认" in row and "相似度" in row and "核查日期" in row
    assert f'name="confirm-{entry["fid"]}-{index}" value="survey_date"' in row and "checked" not in row
    assert '<option value="survey_date" selected>' not in row
    assert "核实日期" not in yaml.safe_load(web.get(url + "/reconcile.yaml").text)["sources"]["survey"]["columns"]
    # saving without ticking it changes nothing
    web.post(url + "/settings", data=settings_form(_state(web, url)))
    assert _state(web, url)["files"][0]["overrides"] == {}
    # ticked: the person's choice, used by the run and written to reconcile.yaml
    page = web.post(url + "/settings", data=settings_form(_state(web, url), **{f"confirm-{entry['fid']}-{index}": "survey_date"}))
    assert _state(web, url)["files"][0]["overrides"] == {"核实日期": "survey_date"}
    row = page.text.split("核实日期</td>")[1].split("</tr>")[0]
    assert '<option value="survey_date" selected>' in row and "已手动修改" in row and "待确认" not in row
    assert yaml.safe_load(web.get(url + "/reconcile.yaml").text)["sources"]["survey"]["columns"]["核实日期"] == \
        "survey_date"


def test_the_pages_automatic_mapping_is_the_clis(web, tmp_path):
    """Files the person does not touch map exactly as `reconcile run` maps them with no `columns:`."""
    from reconcile.plan import compile_plan

    names = ["国家系统导出.xlsx", "村级台账.csv", "入户核查.csv", "走访记录.csv"]
    registers = ["民政低保.csv", "住建危房鉴定.csv", "工商登记.csv"]
    url = new_workspace(web)
    upload(web, url, *[SAMPLE / n for n in names], *[SAMPLE / "部门数据" / n for n in registers])
    page = _state(web, url)
    folder = tmp_path / "cli"
    folder.mkdir()
    for n in names:
        shutil.copy(SAMPLE / n, folder)
    for n in registers:
        shutil.copy(SAMPLE / "部门数据" / n, folder)
    specs = {e["name"]: e for e in page["files"]}
    config = {"region": "湘阴县", "year": 2020, "output": "out/",
              "sources": {e["role"]: {"path": n, "role": e["role"], "level": e["level"]}
                          for n, e in specs.items() if e["role"] in ("system", "archive", "survey")},
              "registers": {e["role"].split(":")[1]: {"path": n, "kind": e["role"].split(":")[1]}
                            for n, e in specs.items() if e["role"].startswith("register:")},
              "visits": {"path": "走访记录.csv"}}
    (folder / "reconcile.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    plan = compile_plan(load_config(folder / "reconcile.yaml"), check_rules=False)
    by_path = {Path(f.path).name: f for f in plan.files.values()}
    from reconcile.web.files import effective_mapping

    for name, entry in specs.items():
        mapping, _ = effective_mapping(entry["headers"], entry["role"], entry["level"], entry["overrides"])
        cli = dict(by_path[name].mapping)
        if by_path[name].usage == "household":  # the head's ID stands in for the member ID, on both sides
            assert "在户一级使用" in web.get(url).text
            cli = {h: f for h, f in cli.items() if f != "id_number"}
        assert mapping == cli, name


def test_the_assessment_year_is_never_the_clocks(web):
    """A file without 收入年度 leaves the year empty and the page asks for it; a file with one fills it in."""
    url = new_workspace(web)
    assert _state(web, url)["year"] is None
    upload(web, url, ("国家系统导出.csv", "户编号,户主姓名,村\n430624101,张三,大田村\n".encode()))
    state = _state(web, url)
    assert state["year"] is None
    page = web.post(url + "/settings", data=settings_form(state, region="东塘镇", action="run"))
    assert "请填写考核年度" in page.text and "未能从文件中识别考核年度" in page.text
    page = web.post(url + "/settings", data=settings_form(state, region="东塘镇", year="2024"))
    assert _state(web, url)["year"] == 2024 and "请填写考核年度" not in page.text
    other = new_workspace(web)
    upload(web, other, ("国家系统导出.csv", "户编号,户主姓名,村,收入年度\n430624101,张三,大田村,2023\n".encode()))
    assert _state(web, other)["year"] == 2023


def test_favicon_and_saving_settings_confirms(web):
    icon = web.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    url = new_workspace(web)
    assert 'rel="icon"' in web.get(url).text
    upload(web, url, ("国家系统导出.csv", "户编号,户主姓名,村,收入年度\n430624101,张三,大田村,2023\n".encode()))
    page = web.post(url + "/settings", data=settings_form(_state(web, url), region="东塘镇"))
    assert "设置已保存" in page.text
