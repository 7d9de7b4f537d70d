"""The web app: plain server-rendered pages (jinja2), a little CSS and one small script, all local.

    GET  /                         start page: new check, this browser's own workspaces
    GET  /login · POST /login      the access password, when the server is reachable from the network
    POST /logout                   end the password session
    POST /w                        new workspace (random id, access token in a cookie) → /w/<id>
    GET  /w/<id>                   ① upload ② check each file (role, header, column mapping) ③ run
    POST /w/<id>/upload            files (multipart, size-limited); a reconcile.yaml re-uses its settings
    POST /w/<id>/settings          the choices on the page; action=run also starts the run
    POST /w/<id>/files/<n>/delete  remove one file
    GET  /w/<id>/reconcile.yaml    the confirmed settings as a config file for `reconcile run`
    GET  /w/<id>/run · /status     progress page, and the JSON it polls
    GET  /w/<id>/results           summary, rectification status, downloads, input problems
    GET  /w/<id>/findings          findings by village and kind, each source's values side by side
    POST /w/<id>/answer            one finding's 核实结果, 说明, 责任人, 整改期限 (a findings row) → the ledger
    POST /w/<id>/answers/upload    township workbooks sent back filled in → their answers into the ledger
    GET  /w/<id>/ids · POST        confirm showing full ID numbers (recorded); the pages then carry ids=<grant>
    GET  /w/<id>/download/<what>   核查报告.xlsx, report.html, findings.csv, input_issues.csv, township/<n>
    POST /w/<id>/delete            delete the workspace folder

Every `/w/<id>` route needs that workspace's token cookie (checked once, in `guard`, for all of them);
see `access` for the rules and `serve` for binding beyond this computer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import jinja2
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from .. import __version__
from ..errors import ReconcileError
from ..ledger import VERDICTS
from . import access, answers, runner, settings
from . import files as F
from . import results as R
from .cards import apply_form, card
from .upload import UploadError, UploadTooLarge, receive
from .workspace import (
    MAX_CONFIG_BYTES,
    Workspace,
    WorkspaceError,
    Workspaces,
    display_name,
    suffix_of,
    too_big_config,
)

HERE = Path(__file__).resolve().parent
DEFAULT_MAX_UPLOAD_MB = 200
MAX_FORM_BYTES = 4 * 2**20  # a settings form of 60 files with wide headers is a few hundred KB
MAX_FORM_FIELDS = 20_000
FULL_ID_DOWNLOADS = ("findings", "issues")  # machine files with ID numbers in full

log = logging.getLogger("reconcile.web")

NO_WORKSPACE = ("找不到这个工作区,或这个浏览器没有打开它的凭据。每个工作区只能在创建它的浏览器中打开(浏览器保存了它的访问凭据);"
                "换了浏览器或电脑、清除了浏览器数据,网页上就无法再打开它。上传的文件和核查结果仍保存在运行 reconcile serve 的电脑上"
                "(工作文件夹中的 workspaces 文件夹),需要时请找技术人员取用,或开始新的核查重新上传。")

STATUS_TEXT = {400: "请求的参数不正确。", 403: "这个请求被拒绝了。", 404: "找不到这个页面,或这个工作区已被删除。",
               405: "不支持这种请求方式。", 409: "正在核查,请等核查结束后再操作。", 413: "提交的内容太大。",
               429: "尝试次数太多,请过几分钟再试。"}

TITLES = {400: "请求不正确", 401: "需要访问密码", 403: "请求被拒绝", 404: "找不到页面", 409: "请稍候", 413: "内容太大",
          429: "请稍后再试"}

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

# Exceptions that stop the server or a request on purpose; everything else in a request is that request's error.
CONTROL = (KeyboardInterrupt, SystemExit, GeneratorExit, asyncio.CancelledError)


def _size(n: int | None) -> str:
    n = n or 0
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MB"
    return f"{max(1, round(n / 1024))} KB" if n else "0 KB"


def _encoding(entry: dict) -> str:
    """How a file's encoding is shown: Excel/Parquet files have none of their own."""
    enc = entry.get("encoding")
    if not enc:
        return "Excel" if entry.get("sheets") or str(entry.get("stored", "")).endswith((".xlsx", ".xls", ".xlsm", ".xlsb")) \
            else "Parquet"
    return {"utf-8": "UTF-8", "utf-8-sig": "UTF-8(带 BOM)", "gb18030": "GB18030(GBK)", "utf-16": "UTF-16"}.get(
        enc, enc.upper())


class Contain:
    """Any error of a request — MemoryError, RecursionError, a Rust reader's panic (a BaseException) — becomes that
    request's Chinese error page (`on_error`); only stopping the server (Ctrl+C) and cancellation pass through.
    A plain ASGI layer: starlette's `BaseHTTPMiddleware` re-raises a BaseException after its response."""

    def __init__(self, app, on_error: Callable[[str, BaseException], Response]):
        self.app = app
        self.on_error = on_error

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except CONTROL:
            raise
        except BaseException as exc:  # noqa: BLE001 — contained to this request, said in Chinese
            if started:  # half a response is out: nothing better to send; the server still carries on
                log.error("error after the response started on %s", scope.get("path"), exc_info=exc)
                return
            await self.on_error(scope.get("path", ""), exc)(scope, receive, send)


async def read_form(request: Request) -> dict[str, str]:
    """A form the pages post (urlencoded, held in memory). A multipart body is refused here: starlette would
    spool its file parts to the system's temporary folder."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        raise HTTPException(400, "请直接在页面上操作。")
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS, max_part_size=256 * 1024)
    return {k: str(v) for k, v in form.items() if isinstance(v, str)}


def create_app(workdir: Path, max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB,
               allowed_hosts: list[str] | None = None, password: str | None = None) -> FastAPI:
    """The app, writing only under `workdir` (created if missing).

    `allowed_hosts`: host names a request may be addressed to (the Host header, without the port), besides
    the loopback names that are always allowed — so a web page elsewhere cannot reach the app through a DNS
    name of its own (DNS rebinding). `password`: the access password; without one only clients on this
    computer are served (see `access`, `serve`)."""
    workdir = Path(workdir).resolve()
    hosts = set(access.LOOPBACK_NAMES) | {access.bare_host(h) for h in allowed_hosts or []}
    sessions = access.Sessions(password) if password else None
    workdir.mkdir(parents=True, exist_ok=True)
    spaces = Workspaces(workdir)
    spaces.scan()  # an unreadable workspace is logged and answers with its own error page; never a crash here
    max_bytes = int(max_upload_mb) * 1024 * 1024
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["size"] = _size
    env.filters["encoding"] = _encoding
    env.globals.update(version=__version__, role_groups=F.role_groups(), role_label=F.role_label,
                       max_upload_mb=max_upload_mb, urlencode=urlencode, password_mode=sessions is not None)

    app = FastAPI(title="reconcile 乡镇自查", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.workspaces = spaces
    app.state.workdir = workdir
    app.state.sessions = sessions
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():  # browsers ask for it on every page; without it each page logs a 404
        return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml",
                            headers={"Cache-Control": "max-age=86400"})

    def page(template: str, code: int = 200, **context) -> HTMLResponse:
        return HTMLResponse(env.get_template(template).render(**context), status_code=code)

    def error_page(code: int, message: str | None = None, path: str = "") -> Response:
        if path.endswith("/status"):
            return JSONResponse({"status": "error", "error": message or STATUS_TEXT.get(code, "出错了")},
                                status_code=code)
        return page("error.html.j2", code, status_code=code, title=TITLES.get(code, "出错了"),
                    message=message or STATUS_TEXT.get(code, "出错了。"))

    def workspace(wid: str) -> Workspace:
        ws = spaces.get(wid)
        if ws is None:
            raise HTTPException(404, NO_WORKSPACE)
        return ws

    def back(ws: Workspace, anchor: str = "") -> RedirectResponse:
        return RedirectResponse(f"/w/{ws.id}{anchor}", status_code=303)

    def flash(ws: Workspace, kind: str, text: str) -> None:
        with ws.edit() as state:
            state.setdefault("flash", []).append({"kind": kind, "text": text[:2000]})

    def contained_error(path: str, exc: BaseException) -> Response:
        log.error("error on %s", path, exc_info=exc)
        where = "处理这个工作区时" if access.workspace_in_path(path) else "处理这个请求时"
        return error_page(500, f"{where}出错({type(exc).__name__}),这次操作没有完成;其他工作区不受影响。"
                               "请把运行 reconcile serve 的窗口中显示的内容反馈给技术人员。", path)

    # added first, so it sits inside `guard`: the request's own errors become its Chinese page before they
    # reach the middleware, whatever their kind
    app.add_middleware(Contain, on_error=contained_error)

    # ---- access: host, client, origin, password, workspace token ---------------------------------------
    def secured(response: Response, path: str) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on the page's own forms
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if path.startswith("/w/") or path in ("/", "/login"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.middleware("http")
    async def guard(request: Request, call_next):
        return secured(await checked(request, call_next), request.url.path)

    async def checked(request: Request, call_next) -> Response:
        path = request.url.path
        if access.host_of(request.headers.get("host", "")) not in hosts:
            return error_page(400, "请用 reconcile serve 显示的地址打开本页面。", path)
        if sessions is None and access.client_is_remote(request):
            return error_page(403, "本网页只允许在运行 reconcile serve 的这台电脑上打开。需要从其他电脑访问时,"
                                   "请技术人员用 --host 和访问密码(--password)重新启动。", path)
        if access.cross_site(request):
            return error_page(403, "拒绝了来自其他网站或页面的请求:请直接在本页面上操作。", path)
        if request.method not in access.SAFE_METHODS and not path.endswith("/upload"):
            length = request.headers.get("content-length", "")
            if length.isdigit() and int(length) > MAX_FORM_BYTES:
                return error_page(413, None, path)
        public = path in ("/login", "/favicon.ico") or path.startswith("/static/")
        if sessions is not None and not public and not sessions.valid(request.cookies.get(access.SESSION_COOKIE)):
            if request.method == "GET" and not path.endswith("/status"):
                target = path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)
            return error_page(401, "请先在登录页输入访问密码。", path)
        wid = access.workspace_in_path(path)
        if wid is not None:
            ws = spaces.get(wid)
            if ws is None or not ws.allows(request.cookies.get(access.cookie_name(wid))):
                return error_page(404, NO_WORKSPACE, path)
        return await call_next(request)  # errors inside are contained by `Contain`, one layer in

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        detail = exc.detail if isinstance(exc.detail, str) and not exc.detail.isascii() else None
        return error_page(exc.status_code, detail, request.url.path)

    @app.exception_handler(WorkspaceError)
    async def workspace_error(request: Request, exc: WorkspaceError):
        log.warning("workspace error on %s: %s", request.url.path, exc.message)
        return error_page(exc.status_code, exc.message, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        return error_page(400, None, request.url.path)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):  # a backstop: `Contain` takes errors first
        log.error("error on %s", request.url.path, exc_info=exc)
        return error_page(500, f"程序内部错误({type(exc).__name__})。请把运行 reconcile serve 的窗口中显示的内容反馈给技术人员。",
                          request.url.path)

    # ---- the access password ------------------------------------------------------------------------
    @app.get("/login", response_class=HTMLResponse)
    def login_page(next: str = "/"):
        if sessions is None:
            return RedirectResponse("/", status_code=303)
        return page("login.html.j2", next=access.safe_next(next), failed=False)

    @app.post("/login")
    async def login(request: Request):
        if sessions is None:
            return RedirectResponse("/", status_code=303)
        form = await read_form(request)
        client = request.client.host if request.client else ""
        target = access.safe_next(form.get("next"))
        if sessions.throttled(client):
            return error_page(429, "访问密码输错的次数太多,请 5 分钟后再试。")
        if not sessions.check(form.get("password", "")):
            sessions.failed(client)
            await asyncio.sleep(0.5)  # slows guessing down; a person does not notice
            return page("login.html.j2", 401, next=target, failed=True)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(access.SESSION_COOKIE, sessions.open(), max_age=access.SESSION_MAX_AGE, path="/",
                            httponly=True, samesite="strict")
        return response

    @app.post("/logout")
    def logout(request: Request):
        if sessions is not None:
            sessions.close(request.cookies.get(access.SESSION_COOKIE))
        response = RedirectResponse("/login" if sessions is not None else "/", status_code=303)
        response.delete_cookie(access.SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return response

    # ---- start page ----------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    def index(request: Request, deleted: int = 0):
        """This browser's own workspaces (from its cookies), never a listing of the folder."""
        tokens = access.workspace_tokens(request)
        own = spaces.owned(tokens)
        items = []
        for ws in own:
            try:
                state = ws.state()
                done = (ws.status() or {}).get("done")
            except WorkspaceError:
                items.append({"id": ws.id, "region": "(无法读取)", "year": None, "created": "", "files": 0,
                              "finished": None, "findings": None, "broken": True})
                continue
            items.append({"id": ws.id, "region": state.get("region") or "(未填写地区)", "year": state.get("year"),
                          "created": state.get("created") or "", "files": len(state["files"]),
                          "finished": done["finished"][:16] if done else None,
                          "findings": done["summary"]["findings"] if done else None, "broken": False})
        items.sort(key=lambda w: str(w["created"]), reverse=True)
        response = page("index.html.j2", workspaces=items, deleted=deleted, workdir=str(workdir))
        for wid in set(tokens) - {ws.id for ws in own}:  # deleted, or never this server's: forget them
            access.clear_workspace_cookie(response, wid)
        return response

    @app.post("/w")
    def new_workspace():
        ws, token = spaces.create(year=None)  # never the clock's year: the files' 收入年度, or the person says
        response = back(ws)
        access.set_workspace_cookie(response, ws.id, token)
        return response

    # ---- ① upload, ② check files, ③ run ---------------------------------------------------------
    @app.get("/w/{wid}", response_class=HTMLResponse)
    def workspace_page(wid: str):
        ws = workspace(wid)
        with ws.edit() as state:
            messages = state.get("flash") or []
            state["flash"] = []
        cards = [card(entry) for entry in state["files"]]
        status = ws.status() or {}
        return page("workspace.html.j2", ws=ws, state=state, cards=cards, messages=messages,
                    problems=settings.blocking_problems(state) if state["files"] else [],
                    running=ws.running, last=status.get("done"), failed=status.get("failed"),
                    data_suffixes="、".join(s for s in F.DATA_SUFFIXES if s not in (".xlsb", ".tsv", ".txt")))

    @app.post("/w/{wid}/upload")
    async def upload(wid: str, request: Request):
        ws = workspace(wid)
        if ws.running:
            return error_page(409)
        try:
            parts = await receive(request, ws.tmp, max_bytes)
        except UploadTooLarge:
            return error_page(413, f"上传的文件太大:一次最多上传 {max_upload_mb} MB。请分几次上传,"
                                   "或请技术人员用 --max-upload-mb 调高上限。")
        except UploadError as exc:
            flash(ws, "error", str(exc))
            return back(ws)
        if not parts:
            flash(ws, "error", "没有选择文件:请先点“选择文件”,选好后再点“上传”。")
            return back(ws)
        data: list[tuple[str, Path, int]] = []
        try:
            for part in parts:
                name = display_name(part.name)
                suffix = suffix_of(name)
                if not suffix:
                    part.path.unlink(missing_ok=True)
                    flash(ws, "error", f"「{name}」不是可以读取的文件类型。请上传 Excel(.xlsx/.xls)、CSV(.csv)或"
                                       "Parquet 文件;也可以上传以前下载的 reconcile.yaml。")
                    continue
                if suffix in F.CONFIG_SUFFIXES:
                    await _apply_config(ws, name, part.path, part.size)
                    continue
                data.append((name, part.path, part.size))
            if data:
                added, problems = await run_in_threadpool(ws.add_files, data)
                for problem in problems:
                    flash(ws, "error", problem)
                if added:
                    flash(ws, "ok", f"已上传 {len(added)} 个文件:{'、'.join(e['name'] for e in added)}。"
                                    "请在下方核对每个文件的用途和列名。")
        except CONTROL:
            raise
        except WorkspaceError:
            raise
        except BaseException as exc:  # noqa: BLE001 — MemoryError, RecursionError …: this upload's error only
            log.error("upload failed in workspace %s", ws.id[:8], exc_info=exc)
            flash(ws, "error", f"处理上传的文件时出错({type(exc).__name__}),这次上传没有完成;其他工作区不受影响。"
                               "请检查文件后重新上传;如果反复出现,请把运行 reconcile serve 的窗口中显示的内容反馈给技术人员。")
        finally:
            for part in parts:
                part.path.unlink(missing_ok=True)  # taken ones were moved away already
        return back(ws, "#files")

    async def _apply_config(ws: Workspace, name: str, path: Path, size: int) -> None:
        """An uploaded reconcile.yaml: bounded in size and in what its aliases expand to (`bounded_yaml`)."""
        if size > MAX_CONFIG_BYTES:
            flash(ws, "error", too_big_config(name))
            return
        text = path.read_bytes()[:MAX_CONFIG_BYTES].decode("utf-8-sig", errors="replace")
        try:
            problems = await run_in_threadpool(ws.apply_template, text, name)
        except WorkspaceError as exc:
            problems = [f"「{name}」没有采用:{exc.message}"]
        for problem in problems:
            flash(ws, "error", problem)
        if not problems:
            flash(ws, "ok", f"已按「{name}」设置地区、年度和同名文件的用途与列名对应(之后上传的同名文件也会沿用)。")

    @app.post("/w/{wid}/files/{fid}/delete")
    def delete_file(wid: str, fid: int):
        ws = workspace(wid)
        if ws.running:
            return error_page(409)
        with ws.lock:
            state = ws.state()
            entry = ws.file(state, fid)
            name = entry["name"] if entry else None
            ws.remove_file(fid)
        if name:
            flash(ws, "ok", f"已删除文件「{name}」。")
        return back(ws, "#files")

    @app.post("/w/{wid}/settings")
    async def save_settings(wid: str, request: Request):
        ws = workspace(wid)
        values = await read_form(request)
        if ws.running:
            return RedirectResponse(f"/w/{ws.id}/run?busy=1", status_code=303)
        await run_in_threadpool(apply_form, ws, values)
        focus = values.get("focus", "")
        anchor = f"#f{focus}" if focus.isdigit() else "#files"
        if values.get("action") != "run":
            flash(ws, "ok", "设置已保存:地区、考核年度和各文件的用途与列名对应都已记下,下次打开本工作区仍在。")
            return back(ws, anchor)
        # claimed before run/ is laid out: a second click neither starts a run nor removes the first one's files
        if not runner.claim(ws):
            if ws.answering:  # answers going into the ledger: a run now would replace it without them
                flash(ws, "error", "正在把核实结果写入整改台账,没有开始核查:请稍候几秒再点“开始核查”。")
                return back(ws, "#run")
            return RedirectResponse(f"/w/{ws.id}/run?busy=1", status_code=303)
        try:
            state = ws.state()
            problems = settings.blocking_problems(state)
            if problems:
                for problem in problems:
                    flash(ws, "error", problem)
                runner.release(ws)
                return back(ws, "#run")
            try:
                _, names = await run_in_threadpool(settings.prepare_run, ws, state)
            except ReconcileError as exc:
                flash(ws, "error", runner.friendly(str(exc), ws))
                runner.release(ws)
                return back(ws, "#run")
            runner.start(ws, names)
        except BaseException:
            runner.release(ws)
            raise
        return RedirectResponse(f"/w/{ws.id}/run", status_code=303)

    @app.get("/w/{wid}/reconcile.yaml")
    def download_yaml(wid: str):
        ws = workspace(wid)
        text = settings.download_yaml(ws.state())
        return Response(text.encode("utf-8"), media_type="application/x-yaml; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="reconcile.yaml"'})

    # ---- progress ------------------------------------------------------------------------------
    @app.get("/w/{wid}/run", response_class=HTMLResponse)
    def run_page(wid: str, busy: int = 0):
        ws = workspace(wid)
        return page("run.html.j2", ws=ws, state=ws.state(), status=runner.status(ws), busy=bool(busy) and ws.running)

    @app.get("/w/{wid}/status")
    def run_status(wid: str):
        return JSONResponse(runner.status(workspace(wid)))

    # ---- showing full ID numbers: confirmed, recorded, for a while -------------------------------
    def granted(ws: Workspace, grant: str) -> bool:
        now = time.monotonic()
        with ws.lock:
            for key in [k for k, t in ws.id_grants.items() if t <= now]:
                del ws.id_grants[key]
            return bool(grant) and grant in ws.id_grants

    def without_ids(request: Request) -> str:
        query = [(k, v) for k, v in parse_qsl(request.url.query, keep_blank_values=True) if k != "ids"]
        return request.url.path + (f"?{urlencode(query)}" if query else "")

    def unmask_url(ws: Workspace, request: Request) -> str:
        return f"/w/{ws.id}/ids?" + urlencode({"next": without_ids(request)})

    def ids_target(ws: Workspace, target: str | None) -> str:
        """Where to show full IDs: this workspace's results or findings page, nothing else."""
        path = access.safe_next(target, f"/w/{ws.id}/results")
        if not path.startswith((f"/w/{ws.id}/results", f"/w/{ws.id}/findings")):
            path = f"/w/{ws.id}/results"
        return path

    @app.get("/w/{wid}/ids", response_class=HTMLResponse)
    def confirm_ids(wid: str, next: str = ""):
        ws = workspace(wid)
        return page("confirm_ids.html.j2", ws=ws, state=ws.state(), next=ids_target(ws, next), missing=False)

    @app.post("/w/{wid}/ids")
    async def show_ids(wid: str, request: Request):
        ws = workspace(wid)
        form = await read_form(request)
        target = ids_target(ws, form.get("next"))
        if form.get("confirm") != "yes":
            return page("confirm_ids.html.j2", 400, ws=ws, state=ws.state(), next=target, missing=True)
        grant = access.new_token()[:22]
        with ws.lock:
            ws.id_grants[grant] = time.monotonic() + access.ID_GRANT_SECONDS
        client = request.client.host if request.client else ""
        ws.audit("show_ids", page=urlsplit(target).path.rsplit("/", 1)[-1], client=client)
        parts = urlsplit(target)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "ids"] + [("ids", grant)]
        return RedirectResponse(f"{parts.path}?{urlencode(query)}", status_code=303)

    # ---- results -------------------------------------------------------------------------------
    def finished(ws: Workspace) -> dict | None:
        return (ws.status() or {}).get("done")

    def finished_run(wid: str) -> tuple[Workspace, dict | None, RedirectResponse | None]:
        """A results page's workspace and its finished run, or where to send the browser instead."""
        ws = workspace(wid)
        if ws.running:
            return ws, None, RedirectResponse(f"/w/{ws.id}/run", status_code=303)
        done = finished(ws)
        return ws, done, None if done is not None else back(ws)

    @app.get("/w/{wid}/results", response_class=HTMLResponse)
    def results_page(wid: str, request: Request, ids: str = ""):
        ws, done, elsewhere = finished_run(wid)
        if elsewhere:
            return elsewhere
        assert done is not None  # finished_run names somewhere else to go whenever there is no finished run
        if ids and not granted(ws, ids):  # ids=1 of an old link, or a grant that has run out: ask again
            return RedirectResponse(unmask_url(ws, request), status_code=303)
        show_ids = bool(ids)
        total_issues, issues = R.issues_view(ws.out, done["names"], show_ids)
        downloads = [(key, label, name) for key, (name, label) in R.DOWNLOADS.items() if (ws.out / name).exists()]
        townships = [(i, p.name) for i, p in enumerate(R.township_files(ws.out))]
        with ws.db_lock:
            coverage = R.coverage_view(ws.out, lambda text: ws.friendly(text, done["names"]), show_ids)
            ledger = R.ledger_view(ws.out, show_ids)
        messages = answers.take(ws)
        state = ws.state()
        return page("results.html.j2", ws=ws, state=state, done=done, summary=done["summary"],
                    ledger=ledger, issues=issues, total_issues=total_issues, messages=messages,
                    returns=list(reversed(state.get("returns") or []))[:10], return_suffixes=answers.RETURN_SUFFIXES,
                    coverage=coverage,
                    # the CLI's advice to add a `columns:` line: on the page that is step ② instead
                    columns_hint=coverage is not None and any("columns" in n["message"] for n in coverage.notices),
                    downloads=downloads, townships=townships, show_ids=show_ids, full_id_downloads=FULL_ID_DOWNLOADS,
                    unmask_url=unmask_url(ws, request), masked_url=without_ids(request),
                    failed=(ws.status() or {}).get("failed"))

    @app.get("/w/{wid}/findings", response_class=HTMLResponse)
    def findings_page(wid: str, request: Request, page_no: int = 1, ids: str = ""):
        ws, done, elsewhere = finished_run(wid)
        if elsewhere:
            return elsewhere
        assert done is not None  # finished_run names somewhere else to go whenever there is no finished run
        if ids and not granted(ws, ids):
            return RedirectResponse(unmask_url(ws, request), status_code=303)
        filters = {k: request.query_params.get(k, "") for k in R.FILTERS}
        with ws.db_lock:
            live = R.ledger_state(ws.out)
        view = R.browse(ws.out, done["sources"], filters, page_no, bool(ids), live)
        # an answer's message goes to its row (the form again, as typed, when it was refused); others on top
        messages = answers.take(ws)
        shown = {r["finding_id"] for r in view.rows}
        by_row = {m["finding_id"]: m for m in messages if m.get("finding_id") in shown}

        def link(**change) -> str:
            params = {**filters, "ids": ids, **change}
            return f"/w/{ws.id}/findings?" + urlencode({k: v for k, v in params.items() if v not in ("", None, 0)})

        return page("findings.html.j2", ws=ws, state=ws.state(), done=done, view=view, filters=filters,
                    link=link, show_ids=bool(ids), ids=ids, unmask_url=unmask_url(ws, request),
                    severities=list(R.SEVERITY_LABELS.items()),
                    statuses=[(k, R.STATUS_LABELS[k]) for k in ("new", "open", "reopened", "in_progress", "verified")]
                    + [(R.OVERDUE, "逾期未整改")],
                    verdicts=list(VERDICTS), by_row=by_row,
                    top_messages=[m for m in messages if m.get("finding_id") not in shown],
                    here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
                    ledger_ready=live is not None)

    # ---- answers: a findings row, returned township workbooks -----------------------------------------
    @app.post("/w/{wid}/answer")
    async def answer_finding(wid: str, request: Request):
        ws = workspace(wid)
        form = await read_form(request)
        message = await run_in_threadpool(answers.answer_one, ws, form)
        answers.flash(ws, message)
        return RedirectResponse(answers.back_to(ws, form.get("back")) + answers.anchor(message.get("finding_id")),
                                status_code=303)

    @app.post("/w/{wid}/answers/upload")
    async def upload_answers(wid: str, request: Request):
        ws = workspace(wid)
        if ws.running:
            return error_page(409, "正在核查,请等核查结束后再导入乡镇交回的报告。")
        try:
            parts = await receive(request, ws.tmp, max_bytes)
        except UploadTooLarge:
            return error_page(413, f"上传的文件太大:一次最多上传 {max_upload_mb} MB。请分几次导入。")
        except UploadError as exc:
            answers.flash(ws, {"kind": "error", "text": str(exc), "lines": []})
            return RedirectResponse(f"/w/{ws.id}/results#answers", status_code=303)
        try:
            message = await run_in_threadpool(answers.import_returned, ws, parts)
        finally:
            for part in parts:
                part.path.unlink(missing_ok=True)  # taken ones were moved into returns/ already
        answers.flash(ws, message)
        return RedirectResponse(f"/w/{ws.id}/results#answers", status_code=303)

    @app.get("/w/{wid}/download/township/{index}")
    def download_township(wid: str, index: int):
        ws = workspace(wid)
        files = R.township_files(ws.out)
        if ws.running or not 0 <= index < len(files):
            raise HTTPException(404, STATUS_TEXT[404])
        return FileResponse(files[index], filename=files[index].name,
                            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

    @app.get("/w/{wid}/download/{what}")
    def download(wid: str, what: str, request: Request):
        ws = workspace(wid)
        if what not in R.DOWNLOADS or ws.running:
            raise HTTPException(404, STATUS_TEXT[404])
        name = R.DOWNLOADS[what][0]
        path = ws.out / name
        if not path.exists():
            raise HTTPException(404, "还没有核查结果:请先运行一次核查。")
        if what in FULL_ID_DOWNLOADS:  # ID numbers in full leave the server: recorded
            ws.audit("download", file=name, client=request.client.host if request.client else "")
        region = (ws.state().get("region") or "").strip()
        filename = f"{display_name(region)}_{name}" if region and what == "workbook" else name
        return FileResponse(path, filename=filename)

    @app.post("/w/{wid}/delete")
    def delete_workspace(wid: str):
        ws = workspace(wid)
        if ws.running or ws.answering:
            return error_page(409, "正在核查或写入整改台账,请等它结束后再删除。")
        spaces.delete(ws)
        response = RedirectResponse("/?deleted=1", status_code=303)
        access.clear_workspace_cookie(response, ws.id)
        return response

    return app
