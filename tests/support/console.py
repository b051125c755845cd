"""The console as `mldeploy ui` starts it, and Debian's Chromium driven by Playwright (no browser is
downloaded): shared by the console suite and the console's security tests (their conftests import the
fixtures)."""

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
URL = re.compile(r"Open: (http://127\.0\.0\.1:\d+)/\?token=(\S+)")


@dataclass
class Console:
    base: str
    token: str
    process: subprocess.Popen[str]

    @property
    def url(self) -> str:
        return f"{self.base}/?token={self.token}"

    def opening(self, path: str) -> str:
        """The address of ``path`` with the token, as a user who was given the printed URL would open it."""
        return f"{self.base}{path}?token={self.token}"


@contextlib.contextmanager
def running_console(workspace: Path, environment: dict[str, str] | None = None) -> Iterator[Console]:
    """``mldeploy ui --port 0`` on ``workspace``, stopped at the end."""
    command = [sys.executable, "-m", "mldeploy", "ui", "--port", "0", "--workspace", str(workspace)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(environment or {})}
    )
    assert process.stdout is not None
    first_lines = [process.stdout.readline() for _ in range(2)]
    found = URL.search("".join(first_lines))
    if found is None:
        process.kill()
        pytest.fail(f"mldeploy ui printed no URL: {first_lines} {process.communicate()[1]}")
    try:
        yield Console(found.group(1), found.group(2), process)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium under Playwright; the tests are skipped where it is not installed."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/test.sh installs it as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        browser.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    """A page of its own browser context (no storage shared with other tests), dialogs accepted."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.set_default_timeout(30_000)
    yield page
    context.close()
