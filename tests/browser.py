"""Debian's chromium driven by Playwright (no browser download is possible here), for the browser tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
# without the background-networking flags chromium keeps dialling Google's hosts on a closed network
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]


def sync_playwright_or_skip():
    """Playwright's `sync_playwright`, or a skip that says what to install."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("python package playwright is not installed (pip install -e '.[dev]')")
    if not CHROMIUM:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium); the browser test needs it")
    return sync_playwright
