"""The tool makes no network calls: a run, validate, sample and compare-exports with no network at all.

Two ways: in a network namespace of its own (`unshare -n`, where the machine allows it), where any attempt to
reach out fails; and in this process with every socket connect refused, where an attempt is also recorded.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys

import pytest

from tests.reliability.harness import cli, fresh_county


def _unshare_works() -> bool:
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return False
    for flags in (["-n"], ["-rn"]):
        if subprocess.run(["unshare", *flags, "true"], capture_output=True).returncode == 0:
            return True
    return False


def _unshare_flags() -> list[str]:
    return ["-n"] if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0 else ["-rn"]


@pytest.mark.skipif(not _unshare_works(), reason="no network namespaces here (unshare -n)")
def test_a_run_works_in_a_namespace_with_no_network(tiny_source, tmp_path):
    county = fresh_county(tiny_source, tmp_path / "county")
    config = county.write_config()
    out = tmp_path / "out"
    command = [sys.executable, "-c", "from reconcile.cli import app; app()"]
    for args in (["run", str(config), "--output", str(out), "--quiet"],
                 ["sample", str(config), "--output", str(out / "抽样"), "--per-village", "2"]):
        done = subprocess.run(["unshare", *_unshare_flags(), *command, *args], capture_output=True, text=True,
                              timeout=600)
        assert done.returncode in (0, 1), done.stdout + done.stderr
    assert (out / "核查报告.xlsx").exists() and (out / "抽样" / "抽样名单.xlsx").exists()


def test_no_socket_is_opened_by_a_run(tiny_source, tmp_path, monkeypatch):
    attempts: list[object] = []

    def refuse(self, address, *args, **kwargs):
        attempts.append(address)
        raise OSError("network use is not allowed in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: refuse(None, address))
    county = fresh_county(tiny_source, tmp_path / "county")
    config = county.write_config()
    out = tmp_path / "out"
    assert cli("run", config, "--output", out, "--quiet").exit_code in (0, 1)
    assert cli("validate", config, "--output", tmp_path / "v").exit_code == 0
    assert not attempts, attempts
