"""What the web tests do as a browser would: open a workspace, upload, submit the settings form, wait for a run.

Shared by tests/web/ and tests/reliability/test_web_access.py (one copy of each step)."""

from __future__ import annotations

import time
from pathlib import Path

BASE = "http://127.0.0.1:8765"  # a loopback address: the app serves only this computer without a password


def new_workspace(client) -> str:
    """A new workspace's URL (its token cookie is now in `client`)."""
    response = client.post("/w", follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["location"]


def workspace_id(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def upload(client, url: str, *files: Path | tuple[str, bytes]):
    parts = [("files", (f.name, f.read_bytes()) if isinstance(f, Path) else f) for f in files]
    return client.post(url + "/upload", files=parts)


def settings_form(state: dict, **extra) -> dict:
    """The settings form as the page would submit it, unchanged but for `extra`."""
    form = {"region": state["region"], "year": str(state["year"] or "")}
    for e in state["files"]:
        form[f"role-{e['fid']}"] = e["role"]
        form[f"level-{e['fid']}"] = e["level"]
    return {**form, **extra}


def wait_for_run(client, url: str, seconds: float = 120) -> dict:
    deadline = time.time() + seconds
    while time.time() < deadline:
        status = client.get(url + "/status").json()
        if status["status"] != "running":
            return status
        time.sleep(0.1)
    raise AssertionError("the run did not finish")
