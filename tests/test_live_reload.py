"""A running PaperChat (the page, ``paperchat chat``) sees papers another process ingests.

The other process is a real ``paperchat ingest`` run; the store is a real Chroma directory,
then a real ``chroma run`` server. Nothing is reloaded by hand: the next questions notice
the store's new generation and the new paper is found, by its words and by its vector.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app import PaperChat
from app.ui_handlers import ChatHandlers
from app.ui_state import ANY, ChatSession
from servers import ROOT, ChromaServer, clean_env

LATE_TITLE = "Zebrafish Larvae Swim Gaits Decoded by Spiking Recurrent Networks"
LATE_ABSTRACT = (
    "We record the tail kinematics of zebrafish larvae and decode their swim gaits with a "
    "spiking recurrent network trained by surrogate gradients, recovering nine bout types."
)
QUESTION = "Which orals decode zebrafish larvae swim gaits?"


def late_listing(tmp_path: Path) -> Path:
    path = tmp_path / "late.jsonl"
    record = {"title": LATE_TITLE, "authors": ["Ines Larva", "Tomas Fin"], "abstract": LATE_ABSTRACT,
              "venue": "ICML", "year": 2024, "status": "Oral"}  # fmt: skip
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    return path


def ingest_elsewhere(listing: Path, data_dir: Path, *args: str, **env: str) -> None:
    """``paperchat ingest`` in its own process, as a user runs it in a second terminal."""
    command = [sys.executable, "-m", "app.cli", "ingest", str(listing), "--data-dir", str(data_dir), *args]
    run = subprocess.run(command, cwd=ROOT, env=clean_env(**env), capture_output=True, text=True, timeout=600)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]


def titles_until_found(pc: PaperChat, timeout: float = 90.0) -> list[str | None]:
    """Ask until the late paper shows up (the reload runs in the background) or time is up."""
    deadline = time.monotonic() + timeout
    while True:
        titles = [p.title for p in pc.search(QUESTION)]
        if LATE_TITLE in titles or time.monotonic() > deadline:
            return titles
        time.sleep(0.5)


def check_reloaded(pc: PaperChat, engine, records_before: int) -> None:
    assert LATE_TITLE in titles_until_found(pc)
    assert pc.reloads == 1
    late = next(r for r in pc.searcher.records if r.title == LATE_TITLE)
    hits = pc.searcher.store.query(pc.embedder.embed([LATE_ABSTRACT])[0], 3)
    assert hits[0].paper_id == late.id, "the vector index in memory holds the new paper"
    assert LATE_TITLE in [n.node.metadata["title"] for n in engine.query(QUESTION).source_nodes]
    assert pc.stats()["records"] == records_before + 1
    dp_sgd = [p.authors[:2] for p in pc.search("Which orals study DP-SGD?")]
    assert ["Lynn Chua", "Badih Ghazi"] in dp_sgd, "the papers loaded before are all still there"


def test_a_running_paperchat_sees_papers_another_process_ingests(bundled_store: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "store"
    shutil.copytree(bundled_store, data_dir)
    pc = PaperChat(data_dir=data_dir, llm="extractive")
    engine = pc.query_engine  # held from before, as the page and llama-index users hold it
    page = ChatHandlers(pc)
    assert LATE_TITLE not in [p.title for p in pc.search(QUESTION)]
    records_before = pc.stats()["records"]
    assert f"{records_before} papers loaded" in page.status()

    ingest_elsewhere(late_listing(tmp_path), data_dir)

    check_reloaded(pc, engine, records_before)
    assert f"{records_before + 1} papers loaded" in page.status(), "the page's status line counts it"
    assert not pc.refresh(), "nothing changed since: no second reload"


@pytest.mark.server
@pytest.mark.slow
def test_a_running_paperchat_sees_papers_ingested_through_the_same_chroma_server(repo_root: Path,
                                                                                tmp_path: Path) -> None:  # fmt: skip
    with ChromaServer(tmp_path / "db") as chroma:
        env = {"PAPERCHAT_CHROMA_URL": chroma.url}
        ingest_elsewhere(repo_root / "data" / "listings", tmp_path / "unused", "--venue", "ICML", "--year", "2024",
                         **env)  # fmt: skip
        pc = PaperChat(data_dir=tmp_path / "unused", chroma_url=chroma.url, llm="extractive")
        engine = pc.query_engine
        assert LATE_TITLE not in [p.title for p in pc.search(QUESTION)]
        records_before = pc.stats()["records"]

        ingest_elsewhere(late_listing(tmp_path), tmp_path / "unused", **env)

        check_reloaded(pc, engine, records_before)


def test_the_page_offers_a_status_another_process_ingests(bundled_store: Path, tmp_path: Path) -> None:
    """A listing with a status the store did not hold ("Spotlight") reaches the page's Status
    menu with the next answer after the reload, not only when ``serve`` restarts."""
    data_dir = tmp_path / "store"
    shutil.copytree(bundled_store, data_dir)
    page = ChatHandlers(PaperChat(data_dir=data_dir, llm="extractive"))
    assert "Spotlight" not in page.facets["status"]
    listing = tmp_path / "spotlight.jsonl"
    listing.write_text(json.dumps({"title": LATE_TITLE, "authors": ["Ines Larva"], "abstract": LATE_ABSTRACT,
                                   "venue": "ICML", "year": 2024, "status": "Spotlight"}) + "\n", encoding="utf-8")  # fmt: skip

    ingest_elsewhere(listing, data_dir)

    deadline, offered = time.monotonic() + 90, None
    while offered is None and time.monotonic() < deadline:
        updates = list(page.respond(QUESTION, [], ChatSession(), ANY, ANY, ANY, False))
        offered = updates[-1].filter_choices
        time.sleep(0.5)
    assert offered is not None, "no answer offered the new status"
    assert offered["status"] == [ANY, "Oral", "Spotlight"]
    assert offered["venue"] == [ANY, "ICML"] and offered["year"] == [ANY, "2024"]
    later = list(page.respond(QUESTION, [], ChatSession(), ANY, ANY, ANY, False))
    assert later[-1].filter_choices is None, "offered once, not with every answer"
