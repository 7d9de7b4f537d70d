"""The web app: plain server-rendered pages (jinja2), a little CSS and one small script, all local.

    GET  /                         start page: new check, earlier workspaces
    POST /w                        new workspace (random id) → /w/<id>
    GET  /w/<id>                   ① upload ② check each file (role, header, column mapping) ③ run
    POST /w/<id>/upload            files (multipart, size-limited); a reconcile.yaml re-uses its settings
    POST /w/<id>/settings          the choices on the page; action=run also starts the run
    POST /w/<id>/files/<n>/delete  remove one file
    GET  /w/<id>/reconcile.yaml    the confirmed settings as a config file for `reconcile run`
    GET  /w/<id>/run · /status     progress page, and the JSON it polls
    GET  /w/<id>/results           summary, rectification status, downloads, input problems
    GET  /w/<id>/findings          findings by village and kind, each source's values side by side
    GET  /w/<id>/download/<what>   核查报告.xlsx, report.html, findings.csv, input_issues.csv, township/<n>
    POST /w/<id>/delete            delete the workspace folder
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode, urlsplit

import jinja2
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from .. import __version__
from ..errors import ReconcileError
from . import files as F
from . import results as R
from . import runner, settings
from .upload import UploadError, UploadTooLarge, receive
from .workspace import Workspace, Workspaces, display_name, suffix_of

HERE = Path(__file__).resolve().parent
DEFAULT_MAX_UPLOAD_MB = 200

STATUS_TEXT = {400: "请求的参数不正确。", 403: "这个请求被拒绝了。", 404: "找不到这个页面,或这个工作区已被删除。",
               405: "不支持这种请求方式。", 409: "正在核查,请等核查结束后再操作。"}

TITLES = {400: "请求不正确", 403: "请求被拒绝", 404: "找不到页面", 409: "请稍候", 413: "文件太大"}

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


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


def create_app(workdir: Path, max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB,
               allowed_hosts: list[str] | None = None) -> FastAPI:
    """The app, writing only under `workdir` (created if missing).

    `allowed_hosts`: the host names a request may be addressed to (the Host header, without the port);
    `reconcile serve` passes the local names so a web page elsewhere cannot reach the app through a
    DNS name of its own (DNS rebinding). None accepts any host."""
    workdir = Path(workdir).resolve()
    hosts = {h.strip("[]").lower() for h in allowed_hosts} if allowed_hosts else None
    workdir.mkdir(parents=True, exist_ok=True)
    spaces = Workspaces(workdir)
    max_bytes = int(max_upload_mb) * 1024 * 1024
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["size"] = _size
    env.filters["encoding"] = _encoding
    env.globals.update(version=__version__, role_groups=F.role_groups(), role_label=F.role_label,
                       max_upload_mb=max_upload_mb, urlencode=urlencode)

    app = FastAPI(title="reconcile 乡镇自查", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.workspaces = spaces
    app.state.workdir = workdir
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():  # browsers ask for it on every page; without it each page logs a 404
        return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml",
                            headers={"Cache-Control": "max-age=86400"})

    def page(template: str, code: int = 200, **context) -> HTMLResponse:
        return HTMLResponse(env.get_template(template).render(**context), status_code=code)

    def error_page(code: int, message: str | None = None) -> HTMLResponse:
        return page("error.html.j2", code, status_code=code, title=TITLES.get(code, "出错了"),
                    message=message or STATUS_TEXT.get(code, "出错了。"))

    def workspace(wid: str) -> Workspace:
        ws = spaces.get(wid)
        if ws is None:
            raise HTTPException(404, STATUS_TEXT[404])
        return ws

    def back(ws: Workspace, anchor: str = "") -> RedirectResponse:
        return RedirectResponse(f"/w/{ws.id}{anchor}", status_code=303)

    def flash(ws: Workspace, kind: str, text: str) -> None:
        with ws.edit() as state:
            state.setdefault("flash", []).append({"kind": kind, "text": text})

    # ---- safety: same-origin POSTs only, strict headers, Chinese error pages --------------------
    @app.middleware("http")
    async def guard(request: Request, call_next):
        if hosts is not None:
            name = urlsplit("//" + request.headers.get("host", "")).hostname or ""
            if name.lower() not in hosts:
                return error_page(400, "请用 reconcile serve 显示的地址打开本页面。")
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            origin = request.headers.get("origin")
            host = request.headers.get("host", "")
            if (origin and origin != "null" and urlsplit(origin).netloc != host) or \
                    request.headers.get("sec-fetch-site") == "cross-site":
                return error_page(403, "拒绝了来自其他网站的请求:请直接在本页面上操作。")
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.url.path.startswith("/w/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        if request.url.path.endswith("/status"):
            return JSONResponse({"status": "error", "error": STATUS_TEXT.get(exc.status_code, "出错了")},
                                status_code=exc.status_code)
        detail = exc.detail if isinstance(exc.detail, str) and not exc.detail.isascii() else None
        return error_page(exc.status_code, detail)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        return error_page(400)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        import logging

        logging.getLogger("reconcile.web").exception("error on %s", request.url.path)
        return error_page(500, f"程序内部错误({type(exc).__name__})。请把运行 reconcile serve 的窗口中显示的内容反馈给技术人员。")

    # ---- start page ----------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    def index(deleted: int = 0):
        items = []
        for ws in spaces.all():
            state = ws.state()
            done = (ws.status() or {}).get("done")
            items.append({"id": ws.id, "region": state.get("region") or "(未填写地区)", "year": state.get("year"),
                          "created": state.get("created"), "files": len(state["files"]),
                          "finished": done["finished"][:16] if done else None,
                          "findings": done["summary"]["findings"] if done else None})
        return page("index.html.j2", workspaces=items, deleted=deleted, workdir=str(workdir))

    @app.post("/w")
    def new_workspace():
        ws = spaces.create(year=None)  # never the clock's year: the files' 收入年度, or the person says
        return back(ws)

    # ---- ① upload, ② check files, ③ run ---------------------------------------------------------
    @app.get("/w/{wid}", response_class=HTMLResponse)
    def workspace_page(wid: str):
        ws = workspace(wid)
        with ws.edit() as state:
            messages = state.get("flash") or []
            state["flash"] = []
        cards = [_card(entry) for entry in state["files"]]
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
        added = []
        for part in parts:
            name = display_name(part.name)
            suffix = suffix_of(name)
            if not suffix:
                part.path.unlink(missing_ok=True)
                flash(ws, "error", f"「{name}」不是可以读取的文件类型。请上传 Excel(.xlsx/.xls)、CSV(.csv)或"
                                   "Parquet 文件;也可以上传以前下载的 reconcile.yaml。")
                continue
            if suffix in F.CONFIG_SUFFIXES:
                text = part.path.read_bytes()[:1_000_000].decode("utf-8-sig", errors="replace")
                part.path.unlink(missing_ok=True)
                problems = await run_in_threadpool(ws.apply_template, text, name)
                for problem in problems:
                    flash(ws, "error", problem)
                if not problems:
                    flash(ws, "ok", f"已按「{name}」设置地区、年度和同名文件的用途与列名对应(之后上传的同名文件也会沿用)。")
                continue
            try:
                await run_in_threadpool(ws.add_file, name, part.path, part.size)
            except ValueError as exc:
                flash(ws, "error", str(exc))
                continue
            added.append(name)
        if added:
            flash(ws, "ok", f"已上传 {len(added)} 个文件:{'、'.join(added)}。请在下方核对每个文件的用途和列名。")
        return back(ws, "#files")

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
        form = await request.form()
        if ws.running:
            return RedirectResponse(f"/w/{ws.id}/run", status_code=303)
        values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
        await run_in_threadpool(_apply_form, ws, values)
        focus = values.get("focus", "")
        anchor = f"#f{focus}" if focus.isdigit() else "#files"
        if values.get("action") != "run":
            flash(ws, "ok", "设置已保存:地区、考核年度和各文件的用途与列名对应都已记下,下次打开本工作区仍在。")
            return back(ws, anchor)
        state = ws.state()
        problems = settings.blocking_problems(state)
        if problems:
            for problem in problems:
                flash(ws, "error", problem)
            return back(ws, "#run")
        try:
            config, names = await run_in_threadpool(settings.prepare_run, ws, state)
        except ReconcileError as exc:
            flash(ws, "error", runner.friendly(str(exc), ws))
            return back(ws, "#run")
        runner.start(ws, config, names)
        return RedirectResponse(f"/w/{ws.id}/run", status_code=303)

    @app.get("/w/{wid}/reconcile.yaml")
    def download_yaml(wid: str):
        ws = workspace(wid)
        text = settings.download_yaml(ws.state())
        return Response(text.encode("utf-8"), media_type="application/x-yaml; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="reconcile.yaml"'})

    # ---- progress ------------------------------------------------------------------------------
    @app.get("/w/{wid}/run", response_class=HTMLResponse)
    def run_page(wid: str):
        ws = workspace(wid)
        return page("run.html.j2", ws=ws, state=ws.state(), status=runner.status(ws))

    @app.get("/w/{wid}/status")
    def run_status(wid: str):
        return JSONResponse(runner.status(workspace(wid)))

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
    def results_page(wid: str, ids: int = 0):
        ws, done, elsewhere = finished_run(wid)
        if elsewhere:
            return elsewhere
        assert done is not None  # finished_run names somewhere else to go whenever there is no finished run
        show_ids = bool(ids)
        total_issues, issues = R.issues_view(ws.out, done["names"], show_ids)
        downloads = [(key, label, name) for key, (name, label) in R.DOWNLOADS.items() if (ws.out / name).exists()]
        townships = [(i, p.name) for i, p in enumerate(R.township_files(ws.out))]
        coverage = R.coverage_view(ws.out, lambda text: ws.friendly(text, done["names"]), show_ids)
        return page("results.html.j2", ws=ws, state=ws.state(), done=done, summary=done["summary"],
                    ledger=R.ledger_view(ws.out, show_ids), issues=issues, total_issues=total_issues,
                    coverage=coverage,
                    # the CLI's advice to add a `columns:` line: on the page that is step ② instead
                    columns_hint=coverage is not None and any("columns" in n["message"] for n in coverage.notices),
                    downloads=downloads, townships=townships, show_ids=show_ids,
                    failed=(ws.status() or {}).get("failed"))

    @app.get("/w/{wid}/findings", response_class=HTMLResponse)
    def findings_page(wid: str, request: Request, page_no: int = 1, ids: int = 0):
        ws, done, elsewhere = finished_run(wid)
        if elsewhere:
            return elsewhere
        assert done is not None  # finished_run names somewhere else to go whenever there is no finished run
        filters = {k: request.query_params.get(k, "") for k in R.FILTERS}
        view = R.browse(ws.out, done["sources"], filters, page_no, bool(ids))

        def link(**change) -> str:
            params = {**filters, "ids": ids or "", **change}
            return f"/w/{ws.id}/findings?" + urlencode({k: v for k, v in params.items() if v not in ("", None, 0)})

        return page("findings.html.j2", ws=ws, state=ws.state(), done=done, view=view, filters=filters,
                    link=link, show_ids=bool(ids), severities=list(R.SEVERITY_LABELS.items()),
                    statuses=[(k, R.STATUS_LABELS[k]) for k in ("new", "open", "reopened")])

    @app.get("/w/{wid}/download/township/{index}")
    def download_township(wid: str, index: int):
        ws = workspace(wid)
        files = R.township_files(ws.out)
        if ws.running or not 0 <= index < len(files):
            raise HTTPException(404, STATUS_TEXT[404])
        return FileResponse(files[index], filename=files[index].name,
                            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

    @app.get("/w/{wid}/download/{what}")
    def download(wid: str, what: str):
        ws = workspace(wid)
        if what not in R.DOWNLOADS or ws.running:
            raise HTTPException(404, STATUS_TEXT[404])
        name = R.DOWNLOADS[what][0]
        path = ws.out / name
        if not path.exists():
            raise HTTPException(404, "还没有核查结果:请先运行一次核查。")
        region = (ws.state().get("region") or "").strip()
        filename = f"{display_name(region)}_{name}" if region and what == "workbook" else name
        return FileResponse(path, filename=filename)

    @app.post("/w/{wid}/delete")
    def delete_workspace(wid: str):
        ws = workspace(wid)
        if ws.running:
            return error_page(409, "正在核查,请等核查结束后再删除。")
        spaces.delete(ws)
        return RedirectResponse("/?deleted=1", status_code=303)

    return app


# ---- the file cards and the settings form ---------------------------------------------------------

HOW_TAGS = {"explicit": "已手动修改", "synonym": "自动识别", "similar": "自动识别(相似)", "proposed": "待确认",
            "by_head": "按户主证件号码核对"}


def _card(entry: dict) -> dict:
    """What the page shows for one file: its read-out, status and the mapping table, each column with
    how it was recognised; a `proposed` column waits for the person to tick it."""
    role, level = entry.get("role") or "", entry.get("level") or "household"
    headers = entry.get("headers", [])
    fields = F.targets(role, level)
    overrides = entry.get("overrides", {})
    match = F.column_match(headers, role, level, overrides) if role and not entry.get("error") else None
    mapping = F.effective_mapping(headers, role, level, overrides)[0] if match else {}
    problems = F.mapping_problems(headers, role, level, mapping) if match else []
    notes = []
    if match:
        fallback = F.household_fallback(headers, role, mapping)
        if fallback:
            notes.append(f"没有成员证件号码列:将按户主证件号码列「{fallback}」在户一级使用,只能核对到户主本人。"
                         f"如果「{fallback}」列就是要核对的人的证件号码,请在下表把该列选为「证件号码」。")
        notes += [f"设置中的列「{raw}」在文件中不存在(文件可能改了列名),它对应的字段本次不会读取;"
                  "请在下表为该字段重新选一列" for raw in match.explicit_missing]
        if match.proposals:
            notes.append(f"有 {len(match.proposals)} 列可能对应标准字段但把握不大(标为“待确认”):"
                         "核对前几行的内容,确实是该字段就勾选“采用”再保存;不勾选则不使用这一列")
    if entry.get("error"):
        badge = ("bad", "无法读取")
    elif not role:
        badge = ("warn", "请选择用途")
    elif role == F.IGNORE:
        badge = ("off", "不使用")
    elif problems:
        badge = ("warn", "需要处理")
    elif notes:
        badge = ("warn", "请确认")
    else:
        badge = ("ok", "可以使用")
    from ..report.common import mask_id, mask_text
    from ..schema import field_kind

    decided = {d.raw: d for d in match.decisions} if match else {}
    columns = []
    for i, header in enumerate(headers):
        d = decided.get(header)
        field = mapping.get(header, "")
        proposal = d.field if d is not None and d.status == "proposed" and d.field in fields else ""
        shown = field or proposal
        mask = mask_id if shown and field_kind(shown) == "id" else mask_text  # a malformed ID is masked too
        status = "off" if header in overrides and not overrides[header] else (d.status if d else "")
        if field and d is not None and not d.mapped and status != "off":
            status = "by_head"  # a register kept by the head's ID: its head-ID column is its ID
        columns.append({"index": i, "header": header, "field": field, "status": status,
                        "tag": "已手动修改" if status == "off" else HOW_TAGS.get(status, ""),
                        "how": mask_text(d.how) if d is not None and status not in ("explicit", "off", "by_head") else "",
                        "proposal": proposal, "proposal_label": fields.get(proposal, ""),
                        "samples": [mask(v) or "" for v in entry.get("samples", {}).get(header, [])]})
    return {"entry": entry, "role": role, "level": level, "fields": list(fields.items()), "columns": columns,
            "problems": problems, "notes": notes, "badge": badge, "mapped": len(mapping),
            "is_source": role in F.ROLES, "is_xlsx": bool(entry.get("sheets")),
            "open": bool(problems) or bool(notes) or not role or bool(entry.get("error"))}


def _apply_form(ws: Workspace, form: dict[str, str]) -> None:
    """Store the page's choices: region, year, and per file its role, level, sheet, header rows and the
    columns the person changed (a select left at what the page suggested stays automatic; a proposed
    column ticked "采用" becomes the person's choice)."""
    with ws.edit() as state:
        if "region" in form:
            region = form["region"].strip()[:60]
            if region != (state.get("region") or ""):
                state["region_confirmed"], state["region_from"] = True, None
            state["region"] = region
        if "year" in form:
            year = form["year"].strip()
            if year.isdigit() and int(year) != state.get("year"):
                state["year_confirmed"], state["year_from"] = True, None
            state["year"] = int(year) if year.isdigit() else None
        for entry in state["files"]:
            fid = entry["fid"]
            role = form.get(f"role-{fid}")
            if role is None:
                continue  # uploaded after the page was drawn
            role = role if F.valid_role(role) else ""
            level = form.get(f"level-{fid}", entry.get("level") or "household")
            level = level if level in ("person", "household") else "household"
            shape_changed = role != entry.get("role") or (role in F.ROLES and level != entry.get("level"))
            if not shape_changed and not entry.get("error"):
                mapping, _ = F.effective_mapping(entry["headers"], entry["role"], entry["level"], entry["overrides"])
                allowed = F.targets(entry["role"], entry["level"])
                for i, header in enumerate(entry["headers"]):
                    value = form.get(f"map-{fid}-{i}")
                    confirmed = form.get(f"confirm-{fid}-{i}")
                    if value is not None and value != mapping.get(header, ""):
                        if value == "" or value in allowed:
                            entry["overrides"][header] = value
                    elif confirmed and confirmed in allowed and header not in mapping:
                        entry["overrides"][header] = confirmed
            if role != entry.get("role") and role in F.ROLES and entry.get("role") not in F.ROLES:
                level = F.guess_level(entry.get("headers", []), role)
            entry["role"], entry["level"] = role, level
            sheet = form.get(f"sheet-{fid}")
            header_rows = form.get(f"header_rows-{fid}")
            new_sheet = int(sheet) if sheet and sheet.isdigit() and int(sheet) < len(entry.get("sheets") or []) \
                else entry.get("sheet", 0)
            new_rows = int(header_rows) if header_rows and header_rows.isdigit() and 0 < int(header_rows) <= 10 \
                else (None if header_rows == "" else entry.get("header_rows"))
            if new_sheet != entry.get("sheet", 0) or new_rows != entry.get("header_rows"):
                entry["sheet"], entry["header_rows"] = new_sheet, new_rows
                ws.probe(entry)
