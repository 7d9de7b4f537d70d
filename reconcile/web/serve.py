"""`reconcile serve`'s decisions, kept beside the app they protect: who may connect, and what is said on start.

- On a loopback address (127.0.0.1, localhost, ::1) nothing more is needed: only this computer can connect.
- On any other address (0.0.0.0, ::, a LAN address, a host name) an access password is required, given
  explicitly with `--password` or the environment variable RECONCILE_WEB_PASSWORD (better: a command line
  is visible to other users of the computer). Without it the server does not start and says why, in
  Chinese; with it, it says on start that the page is reachable from the network and needs the password.
- The Host header check stays on for every binding: loopback names, the bound address (unless it is a
  wildcard such as 0.0.0.0) and the names or addresses given with `--allow-host`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ReconcileError
from .access import LOOPBACK_NAMES, MIN_PASSWORD, bare_host, is_loopback

PASSWORD_ENV = "RECONCILE_WEB_PASSWORD"
WILDCARDS = ("0.0.0.0", "::", "")


@dataclass(frozen=True)
class Access:
    host: str
    hosts: list[str]  # what the Host header may name
    password: str | None
    network: bool  # bound beyond loopback


def plan_access(host: str, password: str | None = None, allow_hosts: Iterable[str] = (),
                environ: dict[str, str] | None = None) -> Access:
    """Who may connect when serving on `host`; ReconcileError (Chinese) when it must not start."""
    env = os.environ if environ is None else environ
    if password is None:
        password = env.get(PASSWORD_ENV) or None
    if password is not None and len(password) < MIN_PASSWORD:
        raise ReconcileError(f"访问密码太短:至少 {MIN_PASSWORD} 个字符(现在 {len(password)} 个)。"
                             "请换一个更长、别人猜不到的密码。")
    network = not is_loopback(host)
    if network and not password:
        raise ReconcileError(
            f"监听地址 {host} 不是本机地址:同一网络中的其他电脑也能打开这个网页、看到上传的数据,所以必须设置访问密码。"
            f"请用 --password 指定访问密码(至少 {MIN_PASSWORD} 个字符),或设置环境变量 {PASSWORD_ENV}"
            "(比写在命令行上安全:命令行会被本机其他用户看到),例如:reconcile serve --host 0.0.0.0 --password 一个足够长的密码。"
            "只在本机使用时不要加 --host(默认 127.0.0.1),也就不需要密码。")
    hosts = list(LOOPBACK_NAMES)
    for name in [host, *allow_hosts]:
        name = bare_host(name)
        if name not in WILDCARDS and name not in hosts:
            hosts.append(name)
    return Access(host=host, hosts=hosts, password=password, network=network)


def start_messages(access: Access, port: int, workdir: Path) -> list[str]:
    """What `reconcile serve` prints on start."""
    host = bare_host(access.host)
    shown = "127.0.0.1" if host in WILDCARDS else (f"[{host}]" if ":" in host else host)
    lines = [f"reconcile 网页已启动:请在浏览器中打开 http://{shown}:{port}/",
             f"上传的文件和核查结果保存在 {workdir};按 Ctrl+C 停止。"]
    if access.network:
        remote = [h for h in access.hosts if h not in LOOPBACK_NAMES]
        where = "、".join(f"http://{'[' + h + ']' if ':' in h else h}:{port}/" for h in remote)
        lines.append(f"注意:监听地址 {access.host} 不是本机,同一网络中的其他电脑也能访问这个网页;"
                     "打开网页时必须先输入访问密码(--password 或环境变量 " + PASSWORD_ENV + " 设置的密码)。")
        lines.append(f"其他电脑可用的地址:{where}。" if remote else
                     "其他电脑用哪个地址访问,请用 --allow-host 指定(例如 --allow-host 192.168.1.5),"
                     "未指定的地址和名称会被拒绝。")
        lines.append("每个工作区只能在创建它的浏览器中打开。")
    return lines


def serve(host: str, port: int, workdir: Path, max_upload_mb: int, password: str | None = None,
          allow_hosts: Iterable[str] = (), echo: Callable[[str], None] = print) -> None:
    """Check the binding, build the app, say how to reach it, serve until stopped."""
    access = plan_access(host, password, allow_hosts)
    import uvicorn

    from .app import create_app

    workdir = Path(workdir).resolve()
    app = create_app(workdir, max_upload_mb=max_upload_mb, allowed_hosts=access.hosts, password=access.password)
    for line in start_messages(access, port, workdir):
        echo(line)
    uvicorn.run(app, host=host, port=port, log_level="warning")
