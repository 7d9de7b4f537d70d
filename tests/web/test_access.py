"""Who may reach what on the web page (issue 16 item 4): workspace tokens, listing, unmasking, origins, hosts,
the access password. Each rule is tested through HTTP, as a browser or another local client would meet it."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason='the web extra is not installed (pip install -e ".[web]")')
pytest.importorskip("httpx", reason="httpx is needed by fastapi's TestClient (pip install -e '.[dev]')")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402

from reconcile.errors import ReconcileError  # noqa: E402
from reconcile.web import access  # noqa: E402
from reconcile.web.app import NO_WORKSPACE, create_app  # noqa: E402
from reconcile.web.serve import PASSWORD_ENV, plan_access, serve, start_messages  # noqa: E402
from tests.web.pages import new_workspace, settings_form, wait_for_run, workspace_id  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
from tests.web.pages import BASE  # noqa: E402

FULL_ID = re.compile(r"\b\d{17}[\dXx]\b")


def _client(app, **kw) -> TestClient:
    return TestClient(app, base_url=kw.pop("base_url", BASE), **kw)










@pytest.fixture(scope="module")
def owned(tmp_path_factory):
    """One app, its owner's browser with a workspace that has a finished run, and a second browser."""
    workdir = tmp_path_factory.mktemp("access") / "web"
    app = create_app(workdir, max_upload_mb=5)
    owner = _client(app)
    url = new_workspace(owner)
    files = [("files", (n, (SAMPLE / n).read_bytes())) for n in ("村级台账.csv", "入户核查.csv")]
    assert owner.post(url + "/upload", files=files).status_code == 200
    state = app.state.workspaces.get(workspace_id(url)).state()
    response = owner.post(url + "/settings", data=settings_form(state, region="东塘镇", year="2020", action="run"),
                          follow_redirects=False)
    assert response.headers["location"].endswith("/run")
    assert wait_for_run(owner, url)["status"] == "done"
    return app, owner, url, workdir


ROUTES_GET = ["", "/run", "/results", "/findings", "/findings?ids=1", "/results?ids=1", "/ids", "/reconcile.yaml",
              "/download/workbook", "/download/report", "/download/findings", "/download/issues",
              "/download/township/0"]
ROUTES_POST = ["/upload", "/settings", "/files/1/delete", "/ids", "/answer", "/answers/upload", "/delete"]


def _refused(response, path: str) -> None:
    assert response.status_code == 404, (path, response.status_code)
    assert response.headers["x-content-type-options"] == "nosniff" and "content-security-policy" in response.headers
    text = response.text
    assert "东塘镇" not in text and "村级台账" not in text and not FULL_ID.search(text), path
    if path.endswith("/status"):
        assert response.json()["status"] == "error"
    else:
        assert "创建它的浏览器" in text and "workspaces" in text  # what happened and where the files still are


def test_every_route_of_a_workspace_needs_its_token(owned):
    app, owner, url, workdir = owned
    stranger = _client(app)  # another browser on the same computer: no cookie
    for path in ROUTES_GET + ["/status"]:
        _refused(stranger.get(url + path, follow_redirects=False), path)
    for path in ROUTES_POST:
        upload = path.endswith("/upload")
        data = {"confirm": "yes", "action": "run", "region": "x", "finding_id": "x", "verdict": "已整改"} \
            if not upload else None
        files = [("files", ("x.csv", b"a,b\n1,2\n"))] if upload else None
        _refused(stranger.post(url + path, data=data, files=files, follow_redirects=False), path)
    # nothing changed: the workspace is there and its owner still gets in
    assert (workdir / "workspaces" / workspace_id(url) / "state.json").exists()
    assert owner.get(url).status_code == 200 and "村级台账.csv" in owner.get(url).text
    assert owner.get(url + "/download/findings").status_code == 200


def test_a_made_up_or_another_workspaces_token_does_not_open_it(owned):
    app, owner, url, _ = owned
    other = _client(app)
    other_url = new_workspace(other)
    other_token = other.cookies.get(access.cookie_name(workspace_id(other_url)))
    assert other_token and other.get(other_url).status_code == 200
    # the other workspace's token, sent under this workspace's cookie name
    thief = _client(app, cookies={access.cookie_name(workspace_id(url)): other_token})
    _refused(thief.get(url + "/download/findings", follow_redirects=False), "/download/findings")
    _refused(_client(app, cookies={access.cookie_name(workspace_id(url)): "x" * 43}).get(url, follow_redirects=False), "")
    # and the owner's token does not open the other's workspace either
    owner_token = owner.cookies.get(access.cookie_name(workspace_id(url)))
    crossed = _client(app, cookies={access.cookie_name(workspace_id(other_url)): owner_token})
    assert crossed.get(other_url, follow_redirects=False).status_code == 404
    # only the token's hash is on disk, nowhere in what the pages show
    folder = app.state.workdir / "workspaces" / workspace_id(url)
    stored = json.loads((folder / "access.json").read_text())
    assert stored["token_sha256"] == access.token_hash(owner_token)
    assert not any(owner_token in p.read_text(errors="ignore") for p in folder.glob("*.json"))
    assert owner_token not in owner.get(url).text


def test_the_token_cookie_is_httponly_and_samesite_strict(tmp_path):
    client = _client(create_app(tmp_path / "web"))
    response = client.post("/w", follow_redirects=False)
    cookie = response.headers["set-cookie"]
    name = access.cookie_name(workspace_id(response.headers["location"]))
    assert cookie.startswith(name + "=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict") and "Path=/" in cookie
    assert "Max-Age=" in cookie  # survives closing the browser: the person comes back to rectify
    assert len(client.cookies.get(name)) >= 40


def test_the_start_page_lists_only_the_browsers_own_workspaces(tmp_path):
    app = create_app(tmp_path / "web")
    alice, bob, nobody = _client(app), _client(app), _client(app)
    a1, a2, b1 = new_workspace(alice), new_workspace(alice), new_workspace(bob)
    alice_page, bob_page, empty = alice.get("/").text, bob.get("/").text, nobody.get("/").text
    assert workspace_id(a1) in alice_page and workspace_id(a2) in alice_page and workspace_id(b1) not in alice_page
    assert workspace_id(b1) in bob_page and workspace_id(a1) not in bob_page and workspace_id(a2) not in bob_page
    assert not any(workspace_id(u) in empty for u in (a1, a2, b1)) and "继续以前的核查" not in empty
    assert "只能在创建它的浏览器中打开" in empty and "workspaces" in empty  # what to do when the cookie is lost
    # a deleted workspace's cookie is forgotten, and it is gone from the list
    assert alice.post(a2 + "/delete", follow_redirects=False).status_code == 303
    assert access.cookie_name(workspace_id(a2)) not in alice.cookies
    assert workspace_id(a2) not in alice.get("/").text and workspace_id(a1) in alice.get("/").text


def test_showing_full_ids_needs_a_confirmation_and_is_recorded(owned):
    app, owner, url, workdir = owned
    page = owner.get(url + "/findings")
    assert page.status_code == 200 and not FULL_ID.search(page.text) and "显示完整证件号码" in page.text
    # the old switch no longer unmasks: it asks first
    for path in ("/findings?ids=1&severity=high", "/results?ids=1"):
        response = owner.get(url + path, follow_redirects=False)
        assert response.status_code == 303 and "/ids?next=" in response.headers["location"], path
        confirm = owner.get(response.headers["location"])
        assert confirm.status_code == 200 and "显示完整证件号码?" in confirm.text and not FULL_ID.search(confirm.text)
    assert "severity%3Dhigh" in owner.get(url + "/findings?ids=1&severity=high", follow_redirects=False).headers["location"]
    # posting without ticking the confirmation shows nothing
    refused = owner.post(url + "/ids", data={"next": url + "/findings"}, follow_redirects=False)
    assert refused.status_code == 400 and "请先勾选" in refused.text and not FULL_ID.search(refused.text)
    audit = workdir / "workspaces" / workspace_id(url) / "audit.log"
    before = audit.read_text().count("show_ids") if audit.exists() else 0
    confirmed = owner.post(url + "/ids", data={"next": url + "/findings?severity=high", "confirm": "yes"},
                           follow_redirects=False)
    assert confirmed.status_code == 303
    target = confirmed.headers["location"]
    assert target.startswith(url + "/findings?") and "severity=high" in target and "ids=" in target
    shown = owner.get(target)
    assert FULL_ID.search(shown.text) and "证件号码打码" in shown.text
    grant = re.search(r"ids=([\w-]+)", target).group(1)
    assert f"ids={grant}" in shown.text  # the links of the page keep it for its lifetime
    assert audit.read_text().count("show_ids") == before + 1
    # the grant belongs to this workspace and ends
    ws = app.state.workspaces.get(workspace_id(url))
    ws.id_grants[grant] = 0.0
    again = owner.get(target, follow_redirects=False)
    assert again.status_code == 303 and "/ids?next=" in again.headers["location"]
    # `next` never leaves this workspace's result pages
    elsewhere = owner.post(url + "/ids", data={"next": "//evil.example/x", "confirm": "yes"}, follow_redirects=False)
    assert elsewhere.headers["location"].startswith(url + "/results?ids=")


def test_full_id_downloads_are_marked_and_recorded(owned):
    app, owner, url, workdir = owned
    page = owner.get(url + "/results").text
    section = page.split('id="downloads"')[1].split("</section>")[0]
    for name in ("findings.csv", "input_issues.csv"):
        row = section.split(f"<strong>{name}</strong>")[1].split("</li>")[0]
        assert "含完整证件号码" in row, name
    assert "核查报告.xlsx</strong> <span" not in section  # the workbook is masked: no such mark
    audit = workdir / "workspaces" / workspace_id(url) / "audit.log"
    before = audit.read_text().count('"download"') if audit.exists() else 0
    assert owner.get(url + "/download/findings").status_code == 200
    assert audit.read_text().count('"download"') == before + 1


@pytest.mark.parametrize("headers", [
    {"Origin": "null"},
    {"Origin": "http://evil.example"},
    {"Origin": "http://127.0.0.1:9999"},  # another program on this computer
    {"Referer": "http://evil.example/page"},
    {"Sec-Fetch-Site": "cross-site"},
], ids=["origin-null", "foreign-origin", "other-port", "foreign-referer", "fetch-metadata"])
def test_posts_from_elsewhere_are_refused(tmp_path, headers):
    app = create_app(tmp_path / "web")
    client = _client(app)
    url = new_workspace(client)
    response = client.post("/w", headers=headers, follow_redirects=False)
    assert response.status_code == 403 and "拒绝了来自其他网站" in response.text
    # the case: one request with Origin: null deleted a workspace
    response = client.post(url + "/delete", headers=headers, follow_redirects=False)
    assert response.status_code == 403
    assert client.get(url).status_code == 200
    assert len(list((tmp_path / "web" / "workspaces").iterdir())) == 1


def test_posts_from_the_page_itself_are_accepted(tmp_path):
    client = _client(create_app(tmp_path / "web"))
    for headers in ({"Origin": BASE}, {"Referer": BASE + "/"}, {"Sec-Fetch-Site": "same-origin", "Origin": BASE}, {}):
        assert client.post("/w", headers=headers, follow_redirects=False).status_code == 303, headers
    # browsers send the page's origin on its own forms only when the referrer policy allows it
    assert client.get("/").headers["referrer-policy"] == "same-origin"


def test_the_host_check_is_on_for_every_app(tmp_path):
    """DNS rebinding: a page on another site that resolves its own name to this computer is refused,
    whether or not the app was given a host list."""
    plain = create_app(tmp_path / "a")
    assert _client(plain, base_url="http://localhost:8765").get("/").status_code == 200
    assert _client(plain, base_url="http://[::1]:8765").get("/").status_code == 200
    refused = _client(plain, base_url="http://rebind.example:8765").get("/")
    assert refused.status_code == 400 and "reconcile serve" in refused.text
    networked = create_app(tmp_path / "b", allowed_hosts=plan_access("0.0.0.0", "a-long-password",
                                                                     ["192.168.1.5", "pc-17.lan"]).hosts,
                           password="a-long-password")
    for base in ("http://192.168.1.5:8765", "http://pc-17.lan:8765", "http://127.0.0.1:8765"):
        assert _client(networked, base_url=base).get("/login").status_code == 200, base
    for base in ("http://rebind.example:8765", "http://192.168.1.6:8765", "http://0.0.0.0.evil:8765"):
        assert _client(networked, base_url=base).get("/login").status_code == 400, base


def test_without_a_password_only_this_computer_is_served(tmp_path):
    """However the app is bound, without a password a client from another machine is refused, even if it
    claims a loopback Host."""
    app = create_app(tmp_path / "web")
    remote = _client(app, client=("192.168.1.9", 50000))
    response = remote.get("/")
    assert response.status_code == 403 and "只允许在运行 reconcile serve 的这台电脑上打开" in response.text
    assert remote.post("/w", follow_redirects=False).status_code == 403
    assert _client(app, client=("127.0.0.1", 50000)).get("/").status_code == 200
    assert _client(app, client=("::1", 50000)).get("/").status_code == 200
    assert _client(app, client=("::ffff:127.0.0.1", 50000)).get("/").status_code == 200
    assert _client(app, client=("::ffff:192.168.1.9", 50000)).get("/").status_code == 403


def test_binding_beyond_loopback_needs_a_password(tmp_path, monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    for host in ("0.0.0.0", "::", "192.168.1.5", "my-pc.lan"):
        with pytest.raises(ReconcileError) as refused:
            plan_access(host)
        message = str(refused.value)
        assert "必须设置访问密码" in message and "--password" in message and PASSWORD_ENV in message, host
    with pytest.raises(ReconcileError, match="访问密码太短"):
        plan_access("0.0.0.0", "short")
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert plan_access(host).password is None and not plan_access(host).network
    # the environment variable counts as given explicitly
    monkeypatch.setenv(PASSWORD_ENV, "from-the-environment")
    plan = plan_access("0.0.0.0", allow_hosts=["192.168.1.5"])
    assert plan.password == "from-the-environment" and plan.network
    assert plan.hosts == ["127.0.0.1", "localhost", "::1", "192.168.1.5"]  # never the wildcard itself
    assert "192.168.1.7" in plan_access("192.168.1.7").hosts  # the bound address is a name it may be reached by
    lines = "\n".join(start_messages(plan, 8765, tmp_path))
    assert "不是本机" in lines and "必须先输入访问密码" in lines and "http://192.168.1.5:8765/" in lines
    assert "不是本机" not in "\n".join(start_messages(plan_access("127.0.0.1"), 8765, tmp_path))


def test_serve_refuses_to_start_beyond_loopback_without_a_password(tmp_path, monkeypatch):
    import uvicorn

    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    started: list = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: started.append(kw))
    said: list[str] = []
    with pytest.raises(ReconcileError, match="必须设置访问密码"):
        serve("0.0.0.0", 8765, tmp_path / "web", 10, echo=said.append)
    assert started == [] and said == [] and not (tmp_path / "web").exists()
    serve("0.0.0.0", 8765, tmp_path / "web", 10, password="a-long-password", allow_hosts=["192.168.1.5"],
          echo=said.append)
    assert started and started[0]["host"] == "0.0.0.0"
    assert any("访问密码" in line for line in said)
    serve("127.0.0.1", 8765, tmp_path / "web", 10, echo=said.append)  # loopback: no password needed
    assert len(started) == 2


def test_with_a_password_every_page_asks_for_it_first(tmp_path):
    app = create_app(tmp_path / "web", allowed_hosts=["192.168.1.5"], password="correct horse battery")
    base = "http://192.168.1.5:8765"
    client = _client(app, base_url=base, client=("192.168.1.9", 50000))
    first = client.get("/", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"].startswith("/login")
    login = client.get(first.headers["location"])
    assert "输入访问密码" in login.text and 'type="password"' in login.text
    assert client.post("/w", follow_redirects=False).status_code == 401
    assert client.get("/static/app.css").status_code == 200  # the login page's own style
    wrong = client.post("/login", data={"password": "wrong guess", "next": "/"}, follow_redirects=False)
    assert wrong.status_code == 401 and "访问密码不正确" in wrong.text
    assert access.SESSION_COOKIE not in client.cookies
    right = client.post("/login", data={"password": "correct horse battery", "next": "//evil.example/"},
                        follow_redirects=False)
    assert right.status_code == 303 and right.headers["location"] == "/"  # never to another site
    assert "HttpOnly" in right.headers["set-cookie"]
    assert client.get("/").status_code == 200 and "退出登录" in client.get("/").text
    url = new_workspace(client)
    assert client.get(url).status_code == 200
    # logged in is not the owner: another logged-in browser still cannot open this workspace
    other = _client(app, base_url=base, client=("192.168.1.10", 50000))
    other.post("/login", data={"password": "correct horse battery", "next": "/"})
    assert other.get("/").status_code == 200 and other.get(url, follow_redirects=False).status_code == 404
    # logging out ends the session
    client.post("/logout", headers={"Origin": base})
    assert client.get("/", follow_redirects=False).status_code == 303


def test_password_guessing_is_throttled(tmp_path):
    app = create_app(tmp_path / "web", password="correct horse battery")
    client = _client(app)
    for _ in range(access.LOGIN_FAILURES):
        assert client.post("/login", data={"password": "guess"}, follow_redirects=False).status_code == 401
    blocked = client.post("/login", data={"password": "correct horse battery"}, follow_redirects=False)
    assert blocked.status_code == 429 and "5 分钟后再试" in blocked.text
    # another address is not blocked by this one's guesses
    assert _client(app, client=("127.0.0.2", 1)).post(
        "/login", data={"password": "correct horse battery"}, follow_redirects=False).status_code == 303


def test_a_password_is_compared_in_constant_time():
    sessions = access.Sessions("correct horse battery")
    assert sessions.check("correct horse battery") and not sessions.check("correct horse batter")
    assert not sessions.check("") and not sessions.check("x" * 10_000)
    import inspect

    assert "compare_digest" in inspect.getsource(access.Sessions.check)


def test_the_lost_cookie_message_names_where_the_files_are(owned):
    app, owner, url, _ = owned
    page = _client(app).get(url)
    assert page.status_code == 404 and page.text.count("创建它的浏览器") == 1
    assert NO_WORKSPACE.split(",")[0] in page.text


def test_the_serve_command_refuses_beyond_loopback_without_a_password(tmp_path, monkeypatch):
    """`reconcile serve` through the CLI (its --password / --allow-host options call `reconcile.web.serve`)."""
    import socket

    import uvicorn
    from typer.testing import CliRunner

    from reconcile.cli import app as cli

    if "--password" not in CliRunner().invoke(cli, ["serve", "--help"], terminal_width=200).output:
        pytest.skip("reconcile serve has no --password option yet (cli.py is to call reconcile.web.serve.serve)")
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    started: list = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: started.append(kw))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    refused = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--port", port, "--workdir", str(tmp_path / "w")])
    assert refused.exit_code == 2 and "必须设置访问密码" in refused.output and started == []
    ok = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--port", port, "--workdir", str(tmp_path / "w"),
                                  "--allow-host", "192.168.1.5"], env={PASSWORD_ENV: "a-long-password"})
    assert ok.exit_code == 0, ok.output
    assert "不是本机" in ok.output and "访问密码" in ok.output and started
