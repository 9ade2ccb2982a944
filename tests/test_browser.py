"""The real page in headless Chromium: `paperchat serve` over the bundled listings plus posters.

Uses Debian's ``chromium`` (installed by ``make test`` / CI) through Playwright; no browser is
downloaded at run time. The store holds the bundled ICML 2024 orals and a few posters (the
bundled listings are all orals), so "orals" in a question is a filter that changes results.
Screenshots go to ``test-artifacts/``: ``ui-dpsgd.png`` (the first answer),
``ui-filter-removed.png`` (after clicking the implied filter away) and ``ui-posters.png``
(the same question with the Status dropdown set to Poster), ``ui-long-answer.png`` (an
answer taller than the chat, opened at its top).
"""

from __future__ import annotations

import json
import os
import re
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
POSTER_TITLE = "Private Vision Transformers Trained with DP-SGD"
POSTERS = [
    {"title": POSTER_TITLE, "authors": ["Grace Hopper", "Alan Turing"], "status": "Poster",
     "abstract": "We pretrain vision transformers with DP-SGD under a strict privacy budget of $\\epsilon=4$ "
                 "and study how DP-SGD clipping interacts with large batches."},
    {"title": "Equivariant Networks for Protein Folding", "authors": ["Rosalind Franklin"], "status": "Poster",
     "abstract": "We predict protein structure from amino acid sequences with equivariant networks."},
]


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

    folder = tmp_path_factory.mktemp("browser")
    posters = folder / "posters.jsonl"
    posters.write_text("\n".join(json.dumps(p) for p in POSTERS) + "\n", encoding="utf-8")
    store = folder / "store"
    pc = PaperChat(data_dir=store)
    pc.ingest([ROOT / "data" / "listings"], venue="ICML", year=2024, progress=False)
    pc.ingest([posters], venue="ICML", year=2024, progress=False)

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


def badges(page) -> list[str]:
    """The venue/year/status badge of every source card, in order."""
    return page.locator("#pc-sources .pc-badge").all_inner_texts()


def wait_for_sources_of(page, question: str) -> None:
    """Until the sources panel shows the answer to ``question`` (it is filled last)."""
    page.locator("#pc-sources .pc-asked", has_text=question).wait_for(timeout=60_000)
    page.locator("#pc-sources .pc-card").first.wait_for(timeout=60_000)


def test_ask_check_sources_and_filter_in_a_real_browser(server):
    from playwright.sync_api import expect, sync_playwright

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

            # the answer: ViP in the chat and the sources, read as text, not markup
            sources = page.locator("#pc-sources")
            sources.locator(".pc-card", has_text="ViP").first.wait_for(timeout=60_000)
            wait_for_sources_of(page, QUESTION)
            chat = page.locator("#pc-chat")
            # the chat lists one line per paper; the evidence, readable, is on the cards
            assert "ViP: A Differentially Private Foundation Model" in chat.inner_text()
            assert "Untitled: “We demonstrate a substantial gap" in chat.inner_text()
            assert "ViP—a Vision transformer" not in chat.inner_text()
            text = sources.inner_text()
            assert "ViP—a Vision transformer with differential Privacy—under" in text
            assert "ε=8" in text and "$\\epsilon" not in text and "**Vi**" not in text
            assert "papers searched matched" in sources.inner_text()
            assert all("Oral" in b for b in badges(page)) and POSTER_TITLE not in sources.inner_text()

            # what answered, in words; the question still in view; evidence without a click
            status = page.locator("#pc-status").inner_text()
            assert "Answered by extractive (no language model" in status
            expect(page.locator("#pc-current")).to_contain_text(QUESTION)
            expect(page.locator("#pc-current")).to_be_in_viewport()
            expect(sources.locator(".pc-card .pc-evidence mark").first).to_be_visible()
            assert "From listing 00" in sources.inner_text() and "_8bc7cccfbb1f2936" not in sources.inner_text()

            # every cited paper can be followed: its own link or a search, labelled as one
            cards = sources.locator(".pc-card")
            for index in range(cards.count()):
                search = cards.nth(index).locator("a.pc-search").first
                assert (search.get_attribute("href") or "").startswith("https://scholar.google.com/scholar?q=")
                assert "No link in the listing. Search by" in cards.nth(index).inner_text()
            cited = chat.locator("a", has_text="[1]").last
            assert (cited.get_attribute("href") or "").startswith("https://scholar.google.com/")
            assert "search" in (cited.get_attribute("title") or "")
            expect(page.locator("#pc-csv")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "ui-dpsgd.png"), full_page=True)

            # the question implied "status: Oral": clicking that chip asks again without it
            chip = page.locator('#pc-chips button[data-remove="status"]')
            expect(chip).to_contain_text("status: Oral")
            chip.click()
            sources.locator(".pc-card", has_text=POSTER_TITLE).wait_for(timeout=60_000)
            assert any("Poster" in b for b in badges(page)) and any("Oral" in b for b in badges(page))
            expect(page.locator("#pc-chips")).to_contain_text("removed")
            expect(page.locator('#pc-chips button[data-remove="status"]')).to_have_count(0)
            expect(page.locator("#pc-current")).to_contain_text("asked again without status: Oral")
            page.screenshot(path=str(ARTIFACTS / "ui-filter-removed.png"), full_page=True)

            # a filter for the next question: shown apart from the answer's, then applied
            page.locator("#pc-status-filter input").click()
            page.get_by_role("option", name="Poster").click()
            page.keyboard.press("Escape")
            pending = page.locator("#pc-pending")
            expect(pending.locator('button[data-clear="status"]')).to_contain_text("status: Poster")
            assert "Poster" not in page.locator("#pc-chips").inner_text().replace("removed", "")
            follow = "Which papers study DP-SGD?"
            page.locator("#pc-question textarea").fill(follow)
            page.locator("#pc-ask").click()
            wait_for_sources_of(page, follow)
            assert badges(page) and all("Poster" in b for b in badges(page))
            assert POSTER_TITLE in sources.inner_text() and "ViP" not in sources.inner_text()
            expect(page.locator('#pc-chips button[data-remove="status"]')).to_contain_text("your filter")
            page.wait_for_timeout(300)  # let the dropdown's closing animation finish
            page.screenshot(path=str(ARTIFACTS / "ui-posters.png"), full_page=True)

            # clicking the next-question chip clears that dropdown
            pending.locator('button[data-clear="status"]').click()
            expect(page.locator("#pc-status-filter input")).to_have_value("any")
            expect(pending.locator('button[data-clear="status"]')).to_have_count(0)

            page.locator("#pc-new-chat").click()
            sources.get_by_text("Ask a question").wait_for(timeout=10_000)
            assert "ViP" not in chat.inner_text()

            example = page.locator("#pc-examples button").first
            asked = example.inner_text()
            example.click()
            wait_for_sources_of(page, asked)
            assert re.search(r"\[1\]", chat.inner_text())

            # an answer taller than the chat opens at its top: the count and the first paper
            long_question = "Which papers involve differential privacy?"
            page.locator("#pc-question textarea").fill(long_question)
            page.locator("#pc-ask").click()
            wait_for_sources_of(page, long_question)
            latest = chat.locator(".message-row.bot-row").last
            assert latest.bounding_box()["height"] > chat.locator(".bubble-wrap").bounding_box()["height"]
            expect(latest.get_by_text("papers searched matched")).to_be_in_viewport()
            expect(latest.locator("a", has_text="[1]")).to_be_in_viewport()
            toolbar = chat.locator(".icon-button-wrapper").first.bounding_box()
            question_row = chat.locator(".message-row.user-row").last.bounding_box()
            assert toolbar is None or question_row["y"] >= toolbar["y"] + toolbar["height"], (question_row, toolbar)
            page.screenshot(path=str(ARTIFACTS / "ui-long-answer.png"), full_page=True)

            # a declined answer: nothing cited, its closest papers shown as not answers
            declined = "Which orals study spiking neural networks or neuromorphic hardware?"
            page.locator("#pc-question textarea").fill(declined)
            page.locator("#pc-ask").click()
            sources.locator(".pc-asked", has_text=declined).wait_for(timeout=60_000)  # no cards to wait for
            expect(sources.locator(".pc-nearest").first).to_be_visible()
            expect(sources).to_contain_text("Closest papers, though none clearly matches")
            assert sources.locator(".pc-num").count() == 0
            expect(chat.locator(".message-row.bot-row").last).to_contain_text("None of the papers in the loaded listings")
            expect(page.locator("#pc-csv")).to_be_hidden()
        finally:
            browser.close()
    assert outside == [], f"the page fetched from outside the server: {outside}"
    assert dialogs == []
