"""The served page under load and under attack, over real HTTP against `paperchat serve`.

* Twenty browser sessions at once, each asking its own question and then a follow-up ("Who
  wrote the second one?"): every one is answered, with its own sources and its own history.
  The follow-up is what proves isolation: it is resolved against the session's previous
  answer, so a session that saw another's history would cite another session's paper.
  Latencies go to ``test-artifacts/concurrency.json`` (a report; nothing here is timed).
* Gradio's file routes refuse everything the page must not hand out (system files, the
  environment, the store, the listings, the project) in every spelling an attacker would try,
  sent byte for byte so no client library normalises them first.
* One session's exports cannot be fetched through anything another session can see or
  guess, and stop existing when their session starts a new chat.

All run against one server process over the bundled store, with the extractive backend.
"""

from __future__ import annotations

import json
import re
import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from servers import (
    ROOT,
    PaperchatServer,
    clean_env,
    endpoint_index,
    event_api_name,
    http_get,
    page_env,
    queue_call,
    raw_get,
)

pytestmark = [pytest.mark.slow]

ARTIFACTS = ROOT / "test-artifacts"
SESSIONS = 20
FOLLOW_UP = "Who wrote the second one?"
#: Topics asked by the concurrent sessions; the first twenty whose answers cite two or more
#: papers (so the follow-up has a "second one") and differ from each other are used.
TOPICS = (
    "DP-SGD", "diffusion models", "reinforcement learning", "large language models",
    "graph neural networks", "protein design", "optimization", "adversarial robustness",
    "in-context learning", "causal inference", "game theory", "time series", "Bayesian inference",
    "image generation", "scaling laws", "low-rank adaptation", "mechanistic interpretability",
    "position bias", "conformal prediction", "robotics", "quantization", "video", "speech",
    "federated learning", "fairness", "molecules", "memorization", "watermarking",
)
PAPER_ID = re.compile(r'data-paper-id="([^"]+)"')
#: Respond's outputs as gradio_client returns them (the session State is not sent).
CHAT, SOURCES, STATUS, BIBTEX, CSV = 0, 2, 4, 5, 6


@pytest.fixture(scope="module")
def page(bundled_store: Path, tmp_path_factory: pytest.TempPathFactory):
    """One `paperchat serve` over the bundled store (extractive answers), for every test here."""
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with PaperchatServer(bundled_store, page_env(clean_env()), log_path=log) as server:
        yield server


def text_of(message: dict[str, Any]) -> str:
    """A chat message's text, whether Gradio sent a string or a list of content parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content or [] if isinstance(part, dict))


def ask(client: Any, question: str, chat: list[Any]) -> tuple[Any, ...]:
    return client.predict(question, chat, "any", "any", "any", False, api_name="/respond")


def expected_turns(store: Path) -> list[tuple[str, list[str], list[str]]]:
    """(question, cited ids, follow-up's cited ids) for ``SESSIONS`` distinct questions, from
    the same store and backend in this process: what each page session must show."""
    from app import PaperChat

    pc = PaperChat(data_dir=store, llm="extractive")
    chosen: list[tuple[str, list[str], list[str]]] = []
    seen: set[tuple[str, ...]] = set()
    for topic in TOPICS:
        question = f"Which orals study {topic}?"
        first = pc.chat(question)
        ids = tuple(p.id for p in first.citations)
        if len(ids) < 2 or ids in seen:
            continue
        follow = pc.chat(FOLLOW_UP, [(question, first)])
        seen.add(ids)
        chosen.append((question, list(ids), [p.id for p in follow.citations]))
        if len(chosen) == SESSIONS:
            break
    pc.store().close()
    assert len(chosen) == SESSIONS, f"only {len(chosen)} usable questions in the bundled store"
    return chosen


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def test_twenty_concurrent_sessions_each_see_only_their_own_answers(page: PaperchatServer,
                                                                     bundled_store: Path,
                                                                     hardening) -> None:  # fmt: skip
    from gradio_client import Client

    turns = expected_turns(bundled_store)
    start = threading.Barrier(SESSIONS, timeout=300)

    def session(index: int) -> dict[str, Any]:
        question, _, _ = turns[index]
        client = Client(page.url + "/", verbose=False, download_files=False)
        start.wait()
        t0 = time.perf_counter()
        first = ask(client, question, [])
        t1 = time.perf_counter()
        second = ask(client, FOLLOW_UP, first[CHAT])
        t2 = time.perf_counter()
        client.close()
        return {"first": first, "second": second, "latency": [t1 - t0, t2 - t1]}

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=SESSIONS) as pool:
        results = list(pool.map(session, range(SESSIONS)))
    wall = time.perf_counter() - began

    problems: list[str] = []
    questions = [q for q, _, _ in turns]
    for (question, ids, follow_ids), got in zip(turns, results):
        shown = PAPER_ID.findall(got["first"][SOURCES])
        if shown != ids:
            problems.append(f"{question!r}: sources {shown} != {ids}")
        if f"Sources for “{question}”" not in got["first"][SOURCES]:
            problems.append(f"{question!r}: sources panel is for another question")
        follow_shown = PAPER_ID.findall(got["second"][SOURCES])
        if follow_shown != follow_ids:
            problems.append(f"{question!r}: follow-up cites {follow_shown}, expected {follow_ids}")
        history = [text_of(m) for m in got["second"][CHAT]]
        if len(history) != 4:
            problems.append(f"{question!r}: the chat holds {len(history)} messages, expected 4")
        others = [q for q in questions if q != question and q.replace("-", "\\-") in " ".join(history)]
        if others:
            problems.append(f"{question!r}: history shows other sessions' questions {others}")
        if not got["first"][STATUS] or "Answered by" not in got["first"][STATUS]:
            problems.append(f"{question!r}: no answer status")

    latencies = [value for got in results for value in got["latency"]]
    report = {
        "sessions": SESSIONS,
        "requests": len(latencies),
        "backend": "extractive",
        "store_papers": 144,
        "wall_seconds": round(wall, 3),
        "p50_seconds": round(statistics.median(latencies), 3),
        "p95_seconds": round(percentile(latencies, 0.95), 3),
        "max_seconds": round(max(latencies), 3),
        "first_question_p50_seconds": round(statistics.median(g["latency"][0] for g in results), 3),
        "follow_up_p50_seconds": round(statistics.median(g["latency"][1] for g in results), 3),
        "note": "client-side time from submit to the final update, 20 sessions started together; "
                "the server answers 4 at a time and queues the rest",
    }  # fmt: skip
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "concurrency.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    hardening.record(
        "sessions", "20 concurrent page sessions, question + follow-up each",
        f"{SESSIONS * 2 - len(problems)}/{SESSIONS * 2} turns answered with their own sources and "
        f"history; p50 {report['p50_seconds']} s, p95 {report['p95_seconds']} s",
    )
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------ file routes


def forbidden_targets(store: Path) -> dict[str, tuple[str, bytes]]:
    """Name -> (request target sent raw, bytes that must not come back)."""
    sqlite = store / "chroma" / "chroma.sqlite3"
    listing = ROOT / "data" / "listings" / "000_8bc7cccfbb1f2936.txt"
    listing_text = listing.read_bytes()[:40]
    project = b"[project]"
    passwd = b"root:"
    sqlite_magic = b"SQLite format 3"
    rel_store = Path("..") / Path(*[".."] * 8) / str(store).lstrip("/")
    targets = {
        "/etc/passwd": ("/gradio_api/file=/etc/passwd", passwd),
        "/etc/passwd, %2f-encoded": ("/gradio_api/file=%2fetc%2fpasswd", passwd),
        "/etc/passwd, double slash": ("/gradio_api/file=//etc/passwd", passwd),
        "/etc/passwd, file:// URL": ("/gradio_api/file=file:///etc/passwd", passwd),
        "/etc/passwd, legacy /file= route": ("/file=/etc/passwd", passwd),
        "server environment (/proc/self/environ)": ("/gradio_api/file=/proc/self/environ", b"PATH="),
        "pyproject via /proc/self/cwd": ("/gradio_api/file=/proc/self/cwd/pyproject.toml", project),
        "data directory itself": (f"/gradio_api/file={store}", b"chroma"),
        "store database chroma.sqlite3": (f"/gradio_api/file={sqlite}", sqlite_magic),
        "store database, upper-case path": (f"/gradio_api/file={str(sqlite).upper()}", sqlite_magic),
        "store database, relative traversal": (f"/gradio_api/file={rel_store}/chroma/chroma.sqlite3", sqlite_magic),
        "store lock file": (f"/gradio_api/file={store}/.paperchat.lock", b"pid"),
        "listing file, absolute": (f"/gradio_api/file={listing}", listing_text),
        "listing file, relative to the server's cwd": ("/gradio_api/file=data/listings/000_8bc7cccfbb1f2936.txt", listing_text),
        "pyproject.toml, relative": ("/gradio_api/file=pyproject.toml", project),
        "pyproject.toml, absolute": (f"/gradio_api/file={ROOT}/pyproject.toml", project),
        "../ out of Gradio's temp dir": ("/gradio_api/file=/tmp/gradio/../../etc/passwd", passwd),
        "..%2f out of Gradio's temp dir": ("/gradio_api/file=/tmp/gradio/..%2f..%2fetc%2fpasswd", passwd),
        "%2e%2e out of Gradio's temp dir": ("/gradio_api/file=/tmp/gradio/%2e%2e/%2e%2e/etc/passwd", passwd),
        "%252e double-encoded": ("/gradio_api/file=/tmp/gradio/%252e%252e/%252e%252e/etc/passwd", passwd),
        "Gradio's temp dir listing": ("/gradio_api/file=/tmp/gradio/", b"paperchat-answer"),
        "/static/..%2f to pyproject": ("/static/..%2f..%2f..%2f..%2f..%2fpyproject.toml", project),
        "/static/../ to /etc/passwd": ("/static/../../../../../../etc/passwd", passwd),
        "/static/%2e%2e to /etc/passwd": ("/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", passwd),
        "/assets/..%2f to pyproject": ("/assets/..%2f..%2f..%2f..%2f..%2fpyproject.toml", project),
        "/assets/%2e%2e to /etc/passwd": ("/assets/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", passwd),
        "/gradio_api/static/..%2f": ("/gradio_api/static/..%2f..%2f..%2f..%2f..%2fpyproject.toml", project),
        "loopback URL through file= (SSRF)": (f"/gradio_api/file=http://127.0.0.1:{{port}}/config", b"dependencies"),
        "/gradio_api/proxy= to loopback": (f"/gradio_api/proxy=http://127.0.0.1:{{port}}/config", b"dependencies"),
    }  # fmt: skip
    return targets


TARGET_NAMES = list(forbidden_targets(Path("/x")))


@pytest.mark.parametrize("name", TARGET_NAMES)
def test_file_routes_refuse_what_the_page_must_not_serve(page: PaperchatServer, bundled_store: Path,
                                                         name: str, hardening) -> None:  # fmt: skip
    target, secret = forbidden_targets(bundled_store)[name]
    target = target.replace("{port}", str(page.port))
    response = raw_get(page.port, target)
    leaked = secret in response.body
    hardening.record("exposure", f"GET {name}", f"HTTP {response.status}" + (" and the file's bytes" if leaked else ", nothing served"))
    assert not leaked, f"{target} -> {response.status}: {response.body[:200]!r}"
    assert response.status in (400, 403, 404, 405), (target, response.status, response.body[:200])


def test_the_page_listens_on_loopback_only(page: PaperchatServer, hardening) -> None:
    """`paperchat serve` without --host must not be reachable from other machines."""
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port = local.split(":")
            if int(port, 16) == page.port and state == "0A":  # 0A: LISTEN
                listening.append(address)
    hardening.record("exposure", "default bind address", f"listening on {listening}")
    assert listening == ["0100007F"], listening  # 127.0.0.1, and nothing on IPv6 or 0.0.0.0


def test_a_forged_chat_history_cannot_pull_a_server_file_into_the_page(page: PaperchatServer,
                                                                         bundled_store: Path,
                                                                         hardening) -> None:  # fmt: skip
    """The chat history is sent by the client; a hand-written client can put a file message
    in it that names a server path. Gradio must refuse it rather than copy the file into its
    cache and hand back a URL."""
    index = endpoint_index(page.url, "respond")
    sqlite = str(bundled_store / "chroma" / "chroma.sqlite3")
    outcomes = []
    for name, path in (("/etc/passwd", "/etc/passwd"), ("store database", sqlite),
                       ("pyproject.toml", str(ROOT / "pyproject.toml"))):  # fmt: skip
        forged = [{"role": "user", "content": [{"type": "file", "file": {
            "path": path, "orig_name": Path(path).name, "meta": {"_type": "gradio.FileData"}}}]},
            {"role": "assistant", "content": [{"type": "text", "text": "ok"}]}]  # fmt: skip
        message = queue_call(page.url, index, ["Which orals study DP-SGD?", forged, "any", "any", "any", False],
                             session_hash=uuid.uuid4().hex[:11])  # fmt: skip
        served = [p for p in re.findall(r'"path":\s*"([^"]+)"', json.dumps(message)) if p != path]
        fetched = [http_get(f"{page.url}/gradio_api/file={p}") for p in served]
        leaked = [f for f in fetched if f.status == 200 and Path(path).read_bytes()[:30] in f.body]
        outcomes.append((name, message.get("success"), leaked))
        hardening.record("exposure", f"forged chat history naming {name}",
                         "refused by Gradio" if not message.get("success") else f"answered; {len(leaked)} copies served")  # fmt: skip
    assert all(not leaked for _, _, leaked in outcomes), outcomes


# ---------------------------------------------------------------------------- exports


def file_path(update: dict[str, Any]) -> str:
    """The server path of a download button's file, from the update gradio_client returns."""
    value = update["value"]
    return str(value["path"] if isinstance(value, dict) else value)


def test_one_sessions_export_cannot_be_fetched_by_another(page: PaperchatServer, hardening) -> None:
    """Session A's BibTeX and CSV: B cannot reach them by any path it can see or guess, and
    once A starts a new chat they are gone, so even a leaked link stops working."""
    from gradio_client import Client

    alice = Client(page.url + "/", verbose=False, download_files=False)
    bob = Client(page.url + "/", verbose=False, download_files=False)
    first = ask(alice, "Which orals study DP-SGD?", [])
    bib_path, csv_path = file_path(first[BIBTEX]), file_path(first[CSV])
    own = http_get(f"{page.url}/gradio_api/file={bib_path}")
    assert own.status == 200 and b"@inproceedings" in own.body, (own.status, own.body[:200])

    bob_answer = ask(bob, "Which orals are about protein design?", [])
    bob_paths = {file_path(bob_answer[BIBTEX]), file_path(bob_answer[CSV])}
    assert not bob_paths & {bib_path, csv_path}
    # what Bob can see of the server (its page config, API description, his own answers)
    # never names Alice's files
    visible = http_get(f"{page.url}/config").text + http_get(f"{page.url}/gradio_api/info").text + json.dumps(bob_answer)
    names_alices = Path(bib_path).parent.name in visible or Path(csv_path).parent.name in visible
    # guesses from the file name alone, and the directory that holds it
    folder = Path(bib_path).parent
    guesses = [f"/tmp/gradio/{Path(bib_path).name}", str(folder), str(folder.parent),
               f"{folder.parent}/../{folder.name}/{Path(bib_path).name}"]  # fmt: skip
    guessed = [g for g in guesses if http_get(f"{page.url}/gradio_api/file={g}").status == 200]

    alice.predict(api_name=event_api_name(page.url, "pc-new-chat"))  # its files are deleted
    after = [http_get(f"{page.url}/gradio_api/file={p}").status for p in (bib_path, csv_path)]
    alice.close()
    bob.close()
    hardening.record(
        "exposure", "session B fetching session A's export",
        f"A's files named in what B sees: {names_alices}; guessed paths served: {len(guessed)}; "
        f"A's links after its New chat: HTTP {after}",
    )
    assert not names_alices
    assert not guessed, guessed
    assert all(status in (403, 404) for status in after), after
