"""A real `chroma run` server going away and coming back, and two writers sharing it.

* Stopped mid-session: every search, answer, chat turn and page question during the outage
  is answered from keyword search alone (the catalogue and BM25 index are in memory), with a
  notice naming the server and how to start it (no traceback, no hang); a process that
  starts during the outage, and so has no catalogue, gets that message as its error. The
  *same* ``PaperChat`` object answers from both legs again, with the same papers, once the
  server is back on its port: no restart of paperchat. A paused server (SIGSTOP: overloaded,
  or a network that drops packets) degrades the same way after the configured timeout
  instead of hanging every search.
* Two `paperchat ingest` processes writing to one server at once (the documented way to
  share a store) both succeed, and the store ends exactly as if they had run one after the
  other: same records, no duplicates, and ``count``, ``get`` and ``query`` agree. Without a
  lock on the server the two read-merge-writes interleave and overlapping listings are
  stored twice.

The hashed bag-of-words embedder keeps ingests fast: these tests are about the server, not
about ranking. Every case is a row of the hardening table.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from servers import ROOT, ChromaServer, clean_env

pytestmark = [pytest.mark.slow, pytest.mark.server]

LISTINGS = ROOT / "data" / "listings"
PAPERSCOOL = LISTINGS / "000_8bc7cccfbb1f2936.txt"
VIRTUAL = LISTINGS / "001_49cbb665570d8f3c.txt"
EMBEDDER = "hashing-384"
QUESTION = "Which orals study DP-SGD?"
#: Seconds a request to the server may take here (a paused server fails after this).
TIMEOUT = 5.0


@pytest.fixture
def chroma(tmp_path: Path) -> Iterator[ChromaServer]:
    server = ChromaServer(tmp_path / "chroma-db")
    if not server.binary.exists():
        pytest.skip(f"no chroma CLI next to {sys.executable}")
    with server:
        yield server


def chat_over(url: str, data_dir: Path):
    from app import PaperChat
    from app.settings import Settings

    return PaperChat(settings=Settings(data_dir=data_dir, chroma_url=url, embedder=EMBEDDER, llm="extractive",
                                       chroma_timeout=TIMEOUT))  # fmt: skip


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, encoding="utf-8", timeout=600)  # fmt: skip


def outcome(call: Any) -> tuple[str, Any]:
    """('ok', value) or ('error', the exception): what the user of ``call`` gets."""
    try:
        return "ok", call()
    except Exception as error:  # noqa: BLE001 - the test inspects whatever comes out
        return "error", error


def one_line(text: str) -> str:
    return " ".join(str(text).split())[:110]


def test_a_stopped_server_gives_a_clear_message_and_the_same_object_recovers(chroma: ChromaServer,
                                                                              tmp_path: Path, hardening) -> None:  # fmt: skip
    from app.backends import final_answer
    from app.ui import ChatHandlers, ChatSession
    from vectorstore.store import StoreUnavailableError

    pc = chat_over(chroma.url, tmp_path / "local")
    pc.ingest([LISTINGS], venue="ICML", year=2024, progress=False)
    before_search = [p.id for p in pc.search(QUESTION)]
    before_answer = [p.id for p in pc.ask(QUESTION).citations]
    handlers = ChatHandlers(pc)
    assert before_search and before_answer

    chroma.stop()
    calls = {
        "search": lambda: pc.search(QUESTION),
        "ask": lambda: pc.ask(QUESTION),
        "chat": lambda: final_answer(pc.stream_chat(QUESTION)),
        "stats": lambda: pc.stats()["records"],  # the catalogue is in memory: this still works
    }
    calls["search"] = lambda: pc.search_result(QUESTION)
    during = {name: outcome(call) for name, call in calls.items()}
    page = list(handlers.respond(QUESTION, [], ChatSession()))[-1].status or ""
    env = clean_env(PAPERCHAT_CHROMA_URL=chroma.url, PAPERCHAT_EMBEDDER=EMBEDDER, PAPERCHAT_CHROMA_TIMEOUT=str(TIMEOUT))
    command = cli("search", QUESTION, "--data-dir", str(tmp_path / "cli"), env=env)
    fresh = outcome(lambda: chat_over(chroma.url, tmp_path / "fresh").search(QUESTION))

    chroma.start()  # same path, same port
    after = {
        "search": [p.id for p in pc.search(QUESTION)],
        "ask": [p.id for p in pc.ask(QUESTION).citations],
        "page": list(handlers.respond(QUESTION, [], ChatSession()))[-1].sources or "",
        "fresh object": [p.id for p in chat_over(chroma.url, tmp_path / "fresh").search(QUESTION)],
    }
    records_after = len(pc.store().records())

    for name, (kind, value) in during.items():
        if name in ("search", "ask", "chat") and kind == "ok":
            notices = value.debug["notices"] if name == "search" else value.notices
            cited = value.papers if name == "search" else value.citations
            value = f"{len(cited)} papers from keyword search; notice: {notices[0] if notices else '-'}"
        hardening.record("upstream", f"Chroma server stopped: {name}", f"{kind}: {one_line(value)}")
    hardening.record("upstream", "Chroma server stopped: page question", f"status: {one_line(page.split('⚠')[-1])}")
    hardening.record("upstream", "Chroma server stopped: CLI search", f"exit {command.returncode}: {one_line(command.stderr)}")
    hardening.record("upstream", "Chroma server stopped: PaperChat first used during the outage",
                     f"{fresh[0]}: {one_line(fresh[1])}")  # fmt: skip
    hardening.record("upstream", "Chroma server restarted: same PaperChat, no restart",
                     f"search and ask cite the same papers: {after['search'] == before_search and after['ask'] == before_answer}; "
                     f"records {records_after} of 144", lost=144 - records_after)  # fmt: skip

    for name in ("search", "ask", "chat"):
        kind, value = during[name]
        assert kind == "ok", (name, value)
        notices = value.debug["notices"] if name == "search" else value.notices
        cited = value.papers if name == "search" else value.citations
        [notice] = [n for n in notices if "Keyword search only" in n]
        assert chroma.url in notice and "chroma run" in notice
        assert cited and {p.id for p in cited} <= set(pc.searcher.by_id), name  # only stored papers
        assert any("DP-SGD" in (p.abstract or "") for p in cited), [p.citation for p in cited]
    assert during["stats"] == ("ok", 144)
    assert "Keyword search only" in page and "Cannot reach the Chroma server" in page, page
    assert "went wrong" not in page, page
    assert command.returncode == 1 and command.stderr.startswith("paperchat: error: Cannot reach the Chroma server")
    assert len(command.stderr.strip().splitlines()) == 1 and "Traceback" not in command.stderr
    assert fresh[0] == "error" and isinstance(fresh[1], StoreUnavailableError)
    assert after["search"] == before_search and after["ask"] == before_answer
    assert all(pid in after["page"] for pid in before_answer)
    assert after["fresh object"] == before_search
    assert records_after == 144


def test_a_paused_server_times_out_with_the_message_instead_of_hanging(chroma: ChromaServer,
                                                                       tmp_path: Path, hardening) -> None:  # fmt: skip
    pc = chat_over(chroma.url, tmp_path / "local")
    pc.ingest([LISTINGS], venue="ICML", year=2024, progress=False)
    before = [p.id for p in pc.search(QUESTION)]
    got: dict[str, Any] = {}

    def search() -> None:
        got["outcome"] = outcome(lambda: pc.search_result(QUESTION))

    assert chroma.process is not None
    chroma.process.send_signal(signal.SIGSTOP)
    try:
        worker = threading.Thread(target=search, daemon=True)
        worker.start()
        worker.join(timeout=TIMEOUT * 24)  # a bound for a hang, not a measure of speed
    finally:
        chroma.process.send_signal(signal.SIGCONT)
    worker.join(timeout=TIMEOUT * 24)
    after = [p.id for p in pc.search(QUESTION)]
    kind, value = got.get("outcome", ("hung", "no answer"))
    shown = value if kind != "ok" else f"{len(value.papers)} papers from keyword search; notice: {value.debug['notices'][0]}"
    hardening.record("upstream", "Chroma server paused (SIGSTOP): search", f"{kind}: {one_line(shown)}")
    hardening.record("upstream", "Chroma server resumed: same PaperChat", f"same papers: {after == before}")
    assert kind == "ok", got
    [notice] = [n for n in value.debug["notices"] if "Keyword search only" in n]
    assert "timed out" in notice and chroma.url in notice
    assert value.papers and {p.id for p in value.papers} <= set(pc.searcher.by_id)
    assert after == before


# ---------------------------------------------------------------------------- two writers


def contents(store: Any) -> dict[str, tuple[Any, ...]]:
    """What a store holds, by paper id: the fields a user reads."""
    return {r.id: (r.title, tuple(r.authors), r.abstract, r.status, r.venue, r.year) for r in store.records()}


def serial_results(tmp_path: Path) -> list[dict[str, tuple[Any, ...]]]:
    """The store after the two listings are ingested one after the other, in both orders."""
    from app import PaperChat

    results = []
    for name, order in (("serial-ab", [PAPERSCOOL, VIRTUAL]), ("serial-ba", [VIRTUAL, PAPERSCOOL])):
        pc = PaperChat(data_dir=tmp_path / name, embedder=EMBEDDER)
        for path in order:
            pc.ingest([path], venue="ICML", year=2024, progress=False)
        results.append(contents(pc.store()))
        pc.store().close()
    return results


def agreement(store: Any) -> list[str]:
    """Where ``count``, ``get`` and ``query`` disagree about a store (empty when they agree)."""
    import numpy as np

    problems = []
    records = store.records()
    ids = [r.id for r in records]
    if len(ids) != len(set(ids)):
        problems.append("duplicate paper ids")
    if store.count_papers() != len(records):
        problems.append(f"count_papers {store.count_papers()} != {len(records)} records")
    if store.damage():
        problems.append(f"damage {store.damage()}")
    probe = np.zeros(store.identity.dimension, dtype=np.float32)
    probe[0] = 1.0
    hits = store.query(probe, n_results=store.count_chunks())
    if len(hits) != store.count_chunks() or {h.paper_id for h in hits} != set(ids):
        problems.append(f"query found {len(hits)} chunks of {len({h.paper_id for h in hits})} papers")
    return problems


def test_two_processes_ingesting_into_one_server_both_succeed_and_agree(chroma: ChromaServer,
                                                                        tmp_path: Path, hardening) -> None:  # fmt: skip
    from vectorstore.store import PaperStore

    env = clean_env(PAPERCHAT_CHROMA_URL=chroma.url, PAPERCHAT_EMBEDDER=EMBEDDER)
    command = [sys.executable, "-m", "app.cli", "ingest", "--venue", "ICML", "--year", "2024", "--no-progress"]
    writers = [subprocess.Popen([*command, str(path), "--data-dir", str(tmp_path / f"w{i}")], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
               for i, path in enumerate((PAPERSCOOL, VIRTUAL))]
    outputs = [w.communicate(timeout=600)[0] for w in writers]
    codes = [w.returncode for w in writers]
    readers = [subprocess.Popen([sys.executable, "-m", "app.cli", "stats", "--json", "--data-dir", str(tmp_path / f"r{i}")],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for i in range(2)]  # fmt: skip
    stats = [json.loads(r.communicate(timeout=600)[0]) for r in readers]

    from app import PaperChat

    identity = PaperChat(data_dir=tmp_path / "id", embedder=EMBEDDER).identity()
    with PaperStore.open(tmp_path / "check", identity, chroma_url=chroma.url, create=False) as store:
        shared = contents(store)
        problems = agreement(store)
    serial = serial_results(tmp_path)
    matches = shared in serial
    waited = any("waiting for it to finish" in out for out in outputs)
    hardening.record(
        "concurrency", "two `paperchat ingest` processes into one Chroma server at once (overlapping listings)",
        f"exits {codes}; {len(shared)} records (serial: {len(serial[0])}); equal to a serial run: {matches}; "
        f"second writer waited: {waited}; count/get/query: {'agree' if not problems else problems}",
        lost=max(0, len(serial[0]) - len(shared)),
    )
    hardening.record("concurrency", "two `paperchat stats` processes reading the shared store",
                     f"records {[s['records'] for s in stats]}, titled {[s['with_title'] for s in stats]}")  # fmt: skip
    assert codes == [0, 0], outputs
    assert not problems, problems
    assert len(shared) == 144, f"{len(shared)} records: the two ingests interleaved"
    assert matches, "the shared store differs from both serial orders"
    assert stats[0] == stats[1] and stats[0]["records"] == 144 and stats[0]["with_title"] == 25, stats


def test_a_writer_killed_while_holding_the_server_lock_blocks_nobody(chroma: ChromaServer, tmp_path: Path,
                                                                    hardening) -> None:  # fmt: skip
    """The lock names a PID on this host that no longer exists: the next ingest takes it over."""
    import chromadb

    from vectorstore.server_lock import LOCK_SUFFIX

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    client = chromadb.HttpClient(host="127.0.0.1", port=chroma.port)
    client.create_collection("papers" + LOCK_SUFFIX, embedding_function=None, metadata={
        "pid": dead.pid, "host": os.uname().nodename, "purpose": "paperchat ingest",
        "started": "2000-01-01T00:00:00+00:00", "beat": 1e12,  # a fresh-looking heartbeat
    })  # fmt: skip
    env = clean_env(PAPERCHAT_CHROMA_URL=chroma.url, PAPERCHAT_EMBEDDER=EMBEDDER)
    run = cli("ingest", str(PAPERSCOOL), "--no-progress", "--data-dir", str(tmp_path / "w"), env=env)
    locks = [c.name for c in client.list_collections() if c.name.endswith(LOCK_SUFFIX)]
    hardening.record("concurrency", "next writer after one killed holding the server lock",
                     f"exit {run.returncode}; {one_line(run.stdout.splitlines()[-1] if run.stdout else run.stderr)}; "
                     f"locks left: {len(locks)}")  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "taking over the write lock" in run.stderr
    assert not locks
