"""Who may reach what on the web page (issue 16 item 4).

- **Workspaces are private to the browser that made them.** Creating one issues a random token
  (`secrets.token_urlsafe`) as an HttpOnly, SameSite=Strict cookie named after the workspace; only its
  SHA-256 is kept on disk (`access.json`), so nothing on the page or on disk lets anyone else in. Every
  request under `/w/<id>` needs the matching cookie; without it the answer is the same 404 as for a
  workspace that does not exist (no way to tell the two apart). The start page lists the workspaces whose
  cookies the browser sends, never the folder.
- **Requests that change something come from the page itself**: a POST whose `Origin` is `null` or another
  site, or (no Origin) whose `Referer` is another site, is refused. The pages send `Referrer-Policy:
  same-origin`: with `no-referrer` a browser sends `Origin: null` on the page's own forms, so `null` could
  not be refused.
- **The Host header is checked on every binding** (DNS rebinding): loopback names, the bound address and
  the names the operator adds. An IP literal cannot be rebound but is still only accepted when listed.
- **Beyond loopback only with a password.** Without one, a request from a non-loopback client address is
  refused whatever Host it claims (so an app created without a password is local-only however it is bound).
  With one, every page but the login page needs a session cookie from `/login`; the password is compared
  in constant time and failed attempts are throttled per client address.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
import threading
import time
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

COOKIE_PREFIX = "rw_"
SESSION_COOKIE = "reconcile_session"
TOKEN_MAX_AGE = 400 * 24 * 3600  # browsers cap a cookie's life at 400 days; a session cookie would end with the browser
SESSION_MAX_AGE = 12 * 3600
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
MIN_PASSWORD = 8
LOGIN_WINDOW = 300.0  # seconds over which failed logins of one client address are counted
LOGIN_FAILURES = 8
ID_GRANT_SECONDS = 30 * 60  # how long a confirmed "show full ID numbers" lasts
WORKSPACE_PATH = re.compile(r"^/w/([^/]+)(?:/|$)")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def same_secret(given_hash: str, stored_hash: str) -> bool:
    return hmac.compare_digest(given_hash.encode(), stored_hash.encode())


def cookie_name(wid: str) -> str:
    return COOKIE_PREFIX + wid


def set_workspace_cookie(response: Response, wid: str, token: str) -> None:
    response.set_cookie(cookie_name(wid), token, max_age=TOKEN_MAX_AGE, path="/", httponly=True, samesite="strict")


def clear_workspace_cookie(response: Response, wid: str) -> None:
    response.delete_cookie(cookie_name(wid), path="/", httponly=True, samesite="strict")


def workspace_tokens(request: Request) -> dict[str, str]:
    """Workspace id → token, for every workspace cookie the browser sent."""
    return {name[len(COOKIE_PREFIX):]: value for name, value in request.cookies.items()
            if name.startswith(COOKIE_PREFIX) and value}


def workspace_in_path(path: str) -> str | None:
    """The workspace id a path addresses (`/w/<id>/…`), else None."""
    match = WORKSPACE_PATH.match(path)
    return match.group(1) if match else None


# ---- hosts and addresses ------------------------------------------------------------------------------

def bare_host(name: str) -> str:
    """A host name or IP as compared: lower case, IPv6 brackets off."""
    return name.strip().strip("[]").lower()


def _loopback_ip(name: str) -> bool:
    """`name` is a loopback IP (also written as an IPv4-mapped IPv6 address); ValueError when not an IP."""
    address = ipaddress.ip_address(name)
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def is_loopback(host: str) -> bool:
    name = bare_host(host)
    if name == "localhost":
        return True
    try:
        return _loopback_ip(name)
    except ValueError:
        return False


def host_of(header: str) -> str:
    """The host name of a Host header value (port and brackets off)."""
    try:
        return bare_host(urlsplit("//" + header).hostname or "")
    except ValueError:  # a malformed port or bracket
        return ""


def client_is_remote(request: Request) -> bool:
    """True when the client's address is an IP that is not loopback (a test client or a socket without an
    address is not a remote machine)."""
    client = request.client
    if client is None or not client.host:
        return False
    try:
        return not _loopback_ip(bare_host(client.host))
    except ValueError:
        return False


def _same_origin(url: str, host: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


def cross_site(request: Request) -> bool:
    """True for a request that changes something and does not come from this site's own pages."""
    if request.method in SAFE_METHODS:
        return False
    host = request.headers.get("host", "")
    origin = request.headers.get("origin")
    if origin is not None:
        # `null`: a sandboxed frame, a file:// page, a redirect chain across sites — never this page
        if origin.strip().lower() == "null" or not _same_origin(origin.strip(), host):
            return True
    else:
        referer = request.headers.get("referer")
        if referer and not _same_origin(referer.strip(), host):
            return True
    return request.headers.get("sec-fetch-site") in ("cross-site", "same-site")


# ---- the access password --------------------------------------------------------------------------------

class Sessions:
    """Logins with the access password: sessions in memory (a restart asks for the password again)."""

    def __init__(self, password: str):
        self._digest = hashlib.sha256(password.encode("utf-8")).digest()
        self._sessions: dict[str, float] = {}
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def check(self, given: str) -> bool:
        # digests of equal length compared in constant time: neither the content nor the length leaks
        return hmac.compare_digest(hashlib.sha256(given.encode("utf-8", "replace")).digest(), self._digest)

    def open(self) -> str:
        sid = secrets.token_urlsafe(32)
        with self._lock:
            now = time.monotonic()
            self._sessions = {k: t for k, t in self._sessions.items() if t > now}
            self._sessions[token_hash(sid)] = now + SESSION_MAX_AGE
        return sid

    def valid(self, sid: str | None) -> bool:
        if not sid:
            return False
        with self._lock:
            expires = self._sessions.get(token_hash(sid))
        return expires is not None and expires > time.monotonic()

    def close(self, sid: str | None) -> None:
        if sid:
            with self._lock:
                self._sessions.pop(token_hash(sid), None)

    def throttled(self, client: str) -> bool:
        with self._lock:
            now = time.monotonic()
            recent = [t for t in self._failures.get(client, []) if t > now - LOGIN_WINDOW]
            self._failures[client] = recent
            return len(recent) >= LOGIN_FAILURES

    def failed(self, client: str) -> None:
        with self._lock:
            self._failures.setdefault(client, []).append(time.monotonic())


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go to after logging in: never another site (`//evil`, `http://…`, `/\\evil`)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or any(
            ch in target for ch in "\r\n\\"):
        return default
    return target
