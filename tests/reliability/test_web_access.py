"""Hostile input against the web page (issue 16 items 4, 7, 11): one bad upload, workspace or run stays that
workspace's problem, said in Chinese; the server keeps serving everyone else, also after a restart; nothing is
written to the system's temporary folder; a second 开始核查 neither starts a run nor removes the first's files.

Every case is generated here (no stored binaries) and runs the web app through HTTP as a browser would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason='the web extra is not installed (pip install -e ".[web]")')
pytest.importorskip("httpx", reason="httpx is needed by fastapi's TestClient (pip install -e '.[dev]')")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402

from reconcile.web import access, worker  # noqa: E402
from reconcile.web.app import create_app  # noqa: E402
from reconcile.web.workspace import MAX_STATE_BYTES  # noqa: E402
from tests.web.pages import new_workspace, settings_form, upload, wait_for_run, workspace_id  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
from tests.web.pages import BASE  # noqa: E402


def _client(app) -> TestClient:
    return TestClient(app, base_url=BASE)








def _sample(name: str) -> tuple[str, bytes]:
    return name, (SAMPLE / name).read_bytes()






def _still_serving(client, other_url: str) -> None:
    """The server answers, and another workspace works as before."""
    assert client.get("/").status_code == 200
    page = client.get(other_url)
    assert page.status_code == 200 and "入户核查.csv" in page.text


def yaml_bomb() -> bytes:
    """The issue's 379-byte "billion laughs" reconcile.yaml: nine levels of nine aliases, 9^9 strings expanded."""
    lines = ["sources: {}", "params:", '  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"  {name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return ("\n".join(lines) + "\n").encode()


def xlsx_claiming_the_whole_sheet() -> bytes:
    """A 2 KB .xlsx whose sheet says it spans A1:XFD1048576: a reader that believes it asks for 512 GB."""
    import io

    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    parts = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
        'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": f'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        f'relationships"><Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<?xml version="1.0"?><workbook {ns} xmlns:r="{rel}"><sheets><sheet name="Sheet1" '
        'sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
        f'package/2006/relationships"><Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
        '</Relationships>',
        "xl/worksheets/sheet1.xml": f'<?xml version="1.0"?><worksheet {ns}><dimension ref="A1:XFD1048576"/><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>户主姓名</t></is></c></row><row r="1048576"><c r="XFD1048576" '
        't="inlineStr"><is><t>x</t></is></c></row></sheetData></worksheet>',
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in parts.items():
            z.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture
def server(tmp_path):
    """An app, a browser, and a second workspace of the same browser that must not notice anything."""
    app = create_app(tmp_path / "web", max_upload_mb=5)
    client = _client(app)
    other = new_workspace(client)
    assert "已上传 1 个文件" in upload(client, other, _sample("入户核查.csv")).text
    return app, client, other


# ---- uploads -------------------------------------------------------------------------------------------

def test_a_yaml_bomb_upload_is_refused_in_chinese_and_the_server_stays_up(server, tmp_path):
    app, client, other = server
    bomb = yaml_bomb()
    assert len(bomb) < 400
    url = new_workspace(client)
    page = upload(client, url, ("reconcile.yaml", bomb))
    assert page.status_code == 200 and "锚点和别名" in page.text and "没有采用" in page.text
    state_file = tmp_path / "web" / "workspaces" / workspace_id(url) / "state.json"
    assert state_file.stat().st_size < 10_000  # nothing of the expansion was kept
    assert app.state.workspaces.get(workspace_id(url)).state()["template"] is None
    _still_serving(client, other)
    assert client.get(url).status_code == 200
    # and after a restart
    again = TestClient(create_app(tmp_path / "web"), base_url=BASE, cookies=dict(client.cookies))
    _still_serving(again, other)
    assert again.get(url).status_code == 200


@pytest.mark.parametrize("text, said", [
    ("sources: &s {a: *s}\n", "循环引用"),
    ("sources: {}\nparams: " + "[" * 80 + "]" * 80 + "\n", "嵌套太深"),
    ("sources: {}\nparams: " + "[" * 5000 + "]" * 5000 + "\n", "嵌套太深"),
    ("sources: {}\nparams: [" + ",".join(["x" * 60] * 40_000) + "]\n", "1 MB 以上"),
    ("sources: {}\nparams:\n  a: &a " + "x" * 100_000 + "\n  b: [" + ",".join(["*a"] * 100) + "]\n", "展开后内容过多"),
    ("sources: {a: [1, 2\n", "不是有效的 YAML 文件"),
], ids=["self-reference", "deep", "very-deep", "over-1MiB", "long-text-aliased", "syntax"])
def test_hostile_reconcile_yaml_is_that_uploads_problem(server, text, said):
    app, client, other = server
    url = new_workspace(client)
    page = upload(client, url, ("reconcile.yaml", text.encode()))
    assert page.status_code == 200 and said in page.text, page.text[-2000:]
    assert app.state.workspaces.get(workspace_id(url)).state()["template"] is None
    _still_serving(client, other)


def test_an_xlsx_that_crashes_its_reader_is_that_files_error(server):
    """The file's reader aborts the process it runs in (no exception to catch): it runs in a child process."""
    app, client, other = server
    url = new_workspace(client)
    page = upload(client, url, ("国家系统导出.xlsx", xlsx_claiming_the_whole_sheet()), _sample("村级台账.csv"))
    assert page.status_code == 200
    files = {f["name"]: f for f in app.state.workspaces.get(workspace_id(url)).state()["files"]}
    bad, good = files["国家系统导出.xlsx"], files["村级台账.csv"]
    assert bad["error"] and "国家系统导出.xlsx" in bad["error"] and "workspaces" not in bad["error"]
    assert good["error"] is None and good["headers"]  # the file after it was read by a fresh process
    assert "无法读取" in page.text
    _still_serving(client, other)


def test_an_error_while_handling_an_upload_stays_in_that_workspace(server, monkeypatch):
    app, client, other = server
    url = new_workspace(client)

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr("reconcile.web.workspace.F.guess_level", out_of_memory)
    page = upload(client, url, _sample("村级台账.csv"))
    assert page.status_code == 200 and "处理上传的文件时出错(MemoryError)" in page.text and "其他工作区不受影响" in page.text
    folder = app.state.workdir / "workspaces" / workspace_id(url)
    assert not [p for p in (folder / "tmp").iterdir() if p.name.startswith(".upload-")]
    monkeypatch.undo()
    _still_serving(client, other)
    assert "已上传 1 个文件" in upload(client, url, _sample("村级台账.csv")).text  # and it works again


@pytest.mark.parametrize("error", [RecursionError, MemoryError, type("PanicException", (BaseException,), {})],
                         ids=["RecursionError", "MemoryError", "BaseException-panic"])
def test_any_error_in_a_request_is_a_chinese_page_for_that_workspace(server, monkeypatch, error):
    app, client, other = server
    url = new_workspace(client)

    def boom(*args, **kwargs):
        raise error("boom")

    monkeypatch.setattr("reconcile.web.app.apply_form", boom)
    page = client.post(url + "/settings", data={"region": "x"})
    assert page.status_code == 500 and "处理这个工作区时出错" in page.text and error.__name__ in page.text
    assert "Traceback" not in page.text
    _still_serving(client, other)


# ---- stored state ----------------------------------------------------------------------------------------

def test_a_workspace_whose_state_cannot_be_read_does_not_stop_the_server(tmp_path, caplog):
    app = create_app(tmp_path / "web")
    client = _client(app)
    good, garbled, huge, legacy = (new_workspace(client) for _ in range(4))
    upload(client, good, _sample("入户核查.csv"))
    root = tmp_path / "web" / "workspaces"
    (root / workspace_id(garbled) / "state.json").write_text('{"files": [', encoding="utf-8")
    with (root / workspace_id(huge) / "state.json").open("w") as fh:  # the size of the YAML bomb's state, in small
        fh.write('{"files": [], "x": "' + "a" * (MAX_STATE_BYTES + 10) + '"}')
    (root / workspace_id(legacy) / "access.json").unlink()  # made by a version without tokens
    caplog.set_level("WARNING", logger="reconcile.web")
    restarted = TestClient(create_app(tmp_path / "web"), base_url=BASE, cookies=dict(client.cookies))
    warned = "\n".join(r.getMessage() for r in caplog.records)
    assert workspace_id(garbled) in warned and workspace_id(huge) in warned and workspace_id(legacy) in warned
    index = restarted.get("/")
    assert index.status_code == 200 and workspace_id(good) in index.text and "无法读取" in index.text
    assert workspace_id(legacy) not in index.text
    for url in (garbled, huge):
        page = restarted.get(url)
        assert page.status_code == 500 and "本工作区保存的设置无法读取" in page.text and "其他工作区不受影响" in page.text
        assert str(tmp_path) not in page.text
        assert restarted.get(url + "/status").json()["status"] in ("error", "idle")  # no state needed: no data
    assert restarted.get(legacy).status_code == 404
    page = restarted.get(good)
    assert page.status_code == 200 and "入户核查.csv" in page.text


def test_what_a_workspace_stores_is_bounded(server, monkeypatch):
    app, client, other = server
    url = new_workspace(client)
    monkeypatch.setattr("reconcile.web.workspace.MAX_STATE_BYTES", 3000)
    page = client.post(url + "/settings", data={"region": "区" * 50})  # fits
    assert page.status_code == 200
    page = upload(client, url, _sample("国家系统导出.xlsx"))  # its headers and samples do not
    assert page.status_code == 413 and "超过了上限" in page.text and "没有保存" in page.text
    monkeypatch.undo()
    assert app.state.workspaces.get(workspace_id(url)).state()["files"] == []
    assert client.get(url).status_code == 200
    _still_serving(client, other)


# ---- runs -----------------------------------------------------------------------------------------------

def test_a_run_whose_process_dies_is_that_workspaces_error(server, monkeypatch):
    app, client, other = server
    real = worker.command

    def dying(kind: str, *args: str) -> list[str]:
        return [sys.executable, "-c", "import os; os.abort()"] if kind == "run" else real(kind, *args)

    monkeypatch.setattr(worker, "command", dying)
    state = app.state.workspaces.get(workspace_id(other)).state()
    response = client.post(other + "/settings", data=settings_form(state, region="东塘镇", year="2020", action="run"),
                           follow_redirects=False)
    assert response.headers["location"].endswith("/run")
    status = wait_for_run(client, other)
    assert status["status"] == "failed" and "核查程序被系统终止" in status["error"] and "其他工作区不受影响" in status["error"]
    assert "上次核查没有完成" in client.get(other).text
    assert client.get("/").status_code == 200
    monkeypatch.undo()
    # the next run works
    response = client.post(other + "/settings", data=settings_form(state, region="东塘镇", year="2020", action="run"),
                           follow_redirects=False)
    assert wait_for_run(client, other)["status"] == "done"


def test_an_error_while_starting_a_run_frees_the_workspace(server, monkeypatch):
    app, client, other = server

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr("reconcile.web.app.settings.prepare_run", out_of_memory)
    state = app.state.workspaces.get(workspace_id(other)).state()
    page = client.post(other + "/settings", data=settings_form(state, region="东塘镇", year="2020", action="run"))
    assert page.status_code == 500 and "MemoryError" in page.text
    assert not app.state.workspaces.get(workspace_id(other)).running  # a later 开始核查 is not refused as "running"
    _still_serving(client, other)


def test_a_second_click_on_start_neither_runs_again_nor_removes_the_first_runs_files(server, monkeypatch, tmp_path):
    app, client, other = server
    flag = tmp_path / "go"
    real_command, real_spawn = worker.command, worker.spawn
    spawned: list[str] = []

    def held(kind: str, *args: str) -> list[str]:
        command = real_command(kind, *args)
        if kind != "run":
            return command
        code = f"import os, sys, time\nwhile not os.path.exists({str(flag)!r}): time.sleep(0.05)\nos.execv(sys.executable, {command!r})"
        return [sys.executable, "-c", code]

    def counted(kind, *args, **kwargs):
        spawned.append(kind)
        return real_spawn(kind, *args, **kwargs)

    monkeypatch.setattr(worker, "command", held)
    monkeypatch.setattr(worker, "spawn", counted)
    ws = app.state.workspaces.get(workspace_id(other))
    form = settings_form(ws.state(), region="东塘镇", year="2020", action="run")
    first = client.post(other + "/settings", data=form, follow_redirects=False)
    assert first.headers["location"].endswith("/run")
    laid_out = {p.name: p.stat().st_mtime_ns for p in ws.run_dir.iterdir()}
    assert "reconcile.yaml" in laid_out
    second = client.post(other + "/settings", data={**form, "region": "别的镇"}, follow_redirects=False)
    assert second.status_code == 303 and second.headers["location"].endswith("/run?busy=1")
    assert "已有一次核查正在进行,没有重复开始" in client.get(second.headers["location"]).text
    assert {p.name: p.stat().st_mtime_ns for p in ws.run_dir.iterdir()} == laid_out
    assert ws.state()["region"] == "东塘镇"  # the second click changed nothing
    assert client.post(other + "/upload", files=[("files", _sample("村级台账.csv"))]).status_code == 409
    assert client.post(other + "/delete", follow_redirects=False).status_code == 409
    flag.touch()
    status = wait_for_run(client, other)
    assert status["status"] == "done", status
    assert spawned.count("run") == 1
    assert "东塘镇 2020 年核查结果" in client.get(other + "/results").text


def test_two_start_requests_at_the_same_moment_start_one_run(server):
    from reconcile.web import runner

    app, client, other = server
    ws = app.state.workspaces.get(workspace_id(other))
    assert runner.claim(ws) and not runner.claim(ws) and ws.running
    runner.release(ws)
    assert not ws.running and runner.claim(ws)
    runner.release(ws)


# ---- temporary files ---------------------------------------------------------------------------------------

# Installed in every process of the test (the server's and each child it starts, through PYTHONPATH): records
# every file opened and folder made in the watched folder, also those removed again at once.
WATCH_HOOK = textwrap.dedent('''
    import os, sys

    _watched, _log = os.environ.get("WATCH_TMP"), os.environ.get("WATCH_LOG")

    def _hook(event, args):
        if event in ("open", "os.mkdir", "os.rename", "os.replace") and args and isinstance(args[0], (str, bytes, os.PathLike)):
            path = os.fsdecode(args[0])
            if path.startswith(_watched):
                with open(_log, "a", encoding="utf-8") as fh:
                    fh.write(f"{os.getpid()} {event} {path}\\n")

    if _watched and _log:
        sys.addaudithook(_hook)
''')

TEMP_SCRIPT = textwrap.dedent('''
    """Upload (a GB18030 CSV, an .xlsx, a large CSV, a reconcile.yaml), run, open the results and download them."""
    import json, os, sys, time, warnings
    from pathlib import Path

    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient
    from reconcile.web.app import create_app

    sample, work = Path(sys.argv[1]), Path(sys.argv[2])
    client = TestClient(create_app(work / "web"), base_url="http://127.0.0.1:8765")
    url = client.post("/w", follow_redirects=False).headers["location"]
    names = ["国家系统导出.xlsx", "村级台账.csv", "入户核查.csv"]
    files = [("files", (n, (sample / n).read_bytes())) for n in names]
    big = ("走访记录.csv", (sample / "走访记录.csv").read_bytes() * 40)  # over starlette's 1 MB in-memory spool
    assert client.post(url + "/upload", files=files + [("files", big)]).status_code == 200
    yaml_text = client.get(url + "/reconcile.yaml").content
    assert client.post(url + "/upload", files=[("files", ("reconcile.yaml", yaml_text))]).status_code == 200
    # a multipart body where the page posts a form: refused before anything is spooled
    refused = client.post(url + "/settings", files=[("x", ("x.bin", b"0" * (2 << 20)))])
    ws = client.app.state.workspaces.get(url.rsplit("/", 1)[-1])
    form = {"region": "湘阴县", "year": "2020", "action": "run"}
    for e in ws.state()["files"]:
        form[f"role-{e['fid']}"], form[f"level-{e['fid']}"] = e["role"], e["level"]
    assert client.post(url + "/settings", data=form, follow_redirects=False).headers["location"].endswith("/run")
    while client.get(url + "/status").json()["status"] == "running":
        time.sleep(0.1)
    for path in ("/results", "/findings", "/download/workbook", "/download/findings", "/download/issues"):
        assert client.get(url + path).status_code == 200, path
    print(json.dumps({"status": client.get(url + "/status").json()["status"], "refused": refused.status_code,
                      "workspace_tmp": sorted(p.name for p in ws.tmp.iterdir())}))
''')


def test_no_temporary_files_outside_the_workspace(tmp_path):
    """Upload, run and download with a private system temporary folder: nothing is created in it, not even for a
    moment, by the server (uploads, forms) or by the child processes that read files and run the check."""
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(WATCH_HOOK, encoding="utf-8")
    script = tmp_path / "upload_and_run.py"
    script.write_text(TEMP_SCRIPT, encoding="utf-8")
    log = tmp_path / "seen.log"
    env = {**os.environ, "TMPDIR": str(system_tmp), "TEMP": str(system_tmp), "TMP": str(system_tmp),
           "WATCH_TMP": str(system_tmp), "WATCH_LOG": str(log)}
    env["PYTHONPATH"] = os.pathsep.join([str(hooks), str(ROOT), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, str(script), str(SAMPLE), str(tmp_path / "work")], env=env,
                          capture_output=True, text=True, timeout=600, cwd=str(ROOT))
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["status"] == "done", done.stderr[-3000:]
    assert report["refused"] == 400
    seen = log.read_text(encoding="utf-8") if log.exists() else ""
    assert seen == "", seen[:3000]
    assert list(system_tmp.iterdir()) == []
    assert report["workspace_tmp"] == [], report  # the children's temporary folders are removed too


def test_the_temporary_file_watch_sees_a_child_that_uses_the_system_folder(tmp_path):
    """The watch above is not blind: a child process that writes to TMPDIR and removes it at once is seen."""
    system_tmp, hooks, log = tmp_path / "system-tmp", tmp_path / "hooks", tmp_path / "seen.log"
    system_tmp.mkdir()
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(WATCH_HOOK, encoding="utf-8")
    env = {**os.environ, "TMPDIR": str(system_tmp), "WATCH_TMP": str(system_tmp), "WATCH_LOG": str(log),
           "PYTHONPATH": str(hooks)}
    code = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'import tempfile; tempfile.TemporaryFile().close()'])"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    assert str(system_tmp) in log.read_text(encoding="utf-8")


# ---- access, as an attacker on the same computer would try it ------------------------------------------------

def test_a_local_client_without_the_token_gets_nothing(server):
    """The issue's findings: any local client could list every workspace, download another's findings with
    full IDs, unmask IDs with ?ids=1, and delete a workspace with `Origin: null`."""
    app, client, other = server
    attacker = _client(app)
    assert workspace_id(other) not in attacker.get("/").text
    for path in ("/download/findings", "/download/issues", "/results?ids=1", "/findings?ids=1", ""):
        response = attacker.get(other + path, follow_redirects=False)
        assert response.status_code == 404 and "入户核查.csv" not in response.text, path
    stolen = {access.cookie_name(workspace_id(other)): client.cookies.get(access.cookie_name(workspace_id(other)))}
    with_cookie = TestClient(app, base_url=BASE, cookies=stolen)  # even holding the cookie, a null origin cannot post
    assert with_cookie.post(other + "/delete", headers={"Origin": "null"}, follow_redirects=False).status_code == 403
    assert attacker.post(other + "/delete", follow_redirects=False).status_code == 404
    _still_serving(client, other)
