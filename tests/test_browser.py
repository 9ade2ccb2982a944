"""The real page in headless Chromium: `paperchat serve` over the bundled listings.

Uses Debian's ``chromium`` (installed by ``make test`` / CI) through Playwright; no browser is
downloaded at run time. Saves a screenshot to ``test-artifacts/ui-dpsgd.png``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
QUESTION = "Which orals study DP-SGD?"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            pytest.fail(f"paperchat serve exited with {process.returncode}:\n{output}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    pytest.fail(f"paperchat serve did not listen on port {port} within {timeout:.0f}s")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: `make test` installs Debian's chromium for this test")
    pytest.importorskip("playwright.sync_api", reason="playwright is missing: pip install -e '.[test]'")
    from app.paperchat import PaperChat

    store = tmp_path_factory.mktemp("browser") / "store"
    PaperChat(data_dir=store).ingest([ROOT / "data" / "listings"], venue="ICML", year=2024, progress=False)

    port = free_port()
    script = Path(sys.executable).with_name("paperchat")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "app.cli"]
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "PAPERCHAT_LLM_BASE_URL")}
    env.update(GRADIO_ANALYTICS_ENABLED="False", PAPERCHAT_LLM="extractive", PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [*command, "serve", "--port", str(port), "--data-dir", str(store)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_ask_check_sources_and_filter_in_a_real_browser(server):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    outside: list[str] = []
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which(CHROMIUM) or CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((server, "data:", "blob:")) else None)
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(server)
            page.locator("#pc-question textarea").fill(QUESTION)
            page.locator("#pc-ask").click()

            sources = page.locator("#pc-sources")
            sources.locator(".pc-card", has_text="ViP").first.wait_for(timeout=60_000)
            assert "ViP" in page.locator("#pc-chat").inner_text()
            assert "papers matched" in sources.inner_text()
            assert "Answered by extractive" in page.locator("#pc-status").inner_text()

            page.locator("#pc-status-filter input").click()
            page.get_by_role("option", name="Oral").click()
            page.locator("#pc-chips").get_by_text("your filter").wait_for(timeout=10_000)
            assert "status: Oral" in page.locator("#pc-chips").inner_text()
            page.keyboard.press("Escape")
            page.wait_for_timeout(500)  # let the dropdown's closing animation finish
            page.screenshot(path=str(ARTIFACTS / "ui-dpsgd.png"), full_page=True)

            page.locator("#pc-new-chat").click()
            sources.get_by_text("Ask a question").wait_for(timeout=10_000)
            assert "ViP" not in page.locator("#pc-chat").inner_text()

            page.get_by_role("button", name="Which orals are about differential privacy?").click()
            sources.locator(".pc-card").first.wait_for(timeout=60_000)
            assert "differential privacy" in page.locator("#pc-chat").inner_text()
        finally:
            browser.close()
    assert outside == [], f"the page fetched from outside the server: {outside}"
    assert dialogs == []
