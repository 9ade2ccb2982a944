"""`paperchat serve` over real HTTP: where it listens, what it prints, and its login.

Each server is the real console command in its own process over a small real store (a
five-paper JSONL listing, embedded by the packaged model), spoken to with ``httpx`` the way
a browser would: the page, Gradio's ``/config``, its ``/login`` form and its queue.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
PAPERS = [
    {"title": "Auditing DP-SGD Implementations", "authors": ["Ada Lovelace"], "status": "Oral",
     "abstract": "We audit DP-SGD implementations and find accounting errors."},
    {"title": "Private Vision Transformers", "authors": ["Grace Hopper"], "status": "Poster",
     "abstract": "We pretrain vision transformers with DP-SGD."},
    {"title": "Protein Folding with Equivariant Networks", "authors": ["Rosalind Franklin"], "status": "Poster",
     "abstract": "We predict protein structure with equivariant networks."},
]
USER, PASSWORD = "alice", "s3cret:with-colon"
#: Seconds a server may take to start (loading Gradio and the embedder on a busy 2-core box).
START_TIMEOUT = 180.0


@dataclass
class Served:
    """A running `paperchat serve` process, its port and everything it printed so far."""

    process: subprocess.Popen
    port: int
    lines: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return "".join(self.lines)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(store: Path, *args: str, env: dict[str, str] | None = None) -> Served:
    """Run `paperchat serve` on a free port; return once it printed its URL."""
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERCHAT_", "OPENAI_"))}
    base.update(GRADIO_ANALYTICS_ENABLED="False", ANONYMIZED_TELEMETRY="False", PYTHONUNBUFFERED="1",
                PAPERCHAT_LLM="extractive", **(env or {}))
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--data-dir", str(store), *args],
        cwd=ROOT, env=base, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    served = Served(process, port)
    threading.Thread(target=lambda: served.lines.extend(iter(process.stdout.readline, "")), daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT
    while "paperchat: serving" not in served.output():
        if process.poll() is not None:
            time.sleep(0.2)
            pytest.fail(f"paperchat serve exited with {process.returncode}:\n{served.output()}")
        if time.monotonic() > deadline:
            stop(served)
            pytest.fail(f"paperchat serve printed no URL within {START_TIMEOUT:.0f}s:\n{served.output()}")
        time.sleep(0.2)
    return served


def stop(served: Served) -> None:
    served.process.terminate()
    try:
        served.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        served.process.kill()
        served.process.wait()


def listening_addresses(port: int) -> set[str]:
    """Local addresses of the sockets listening on ``port``, read from /proc/net/tcp{,6}."""
    found: set[str] = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                if width == 8:
                    found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
                else:
                    words = bytes.fromhex(address)
                    raw = b"".join(words[i : i + 4][::-1] for i in range(0, 16, 4))
                    found.add(socket.inet_ntop(socket.AF_INET6, raw))
    return found


def outward_address() -> str | None:
    """This machine's address on its default route (no packet is sent), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("10.255.255.255", 1))
        except OSError:
            return None
        address = sock.getsockname()[0]
    return None if address.startswith("127.") else address


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    from app.paperchat import PaperChat

    folder = tmp_path_factory.mktemp("serve")
    listing = folder / "papers.jsonl"
    listing.write_text("\n".join(json.dumps(p) for p in PAPERS) + "\n", encoding="utf-8")
    pc = PaperChat(data_dir=folder / "store")
    pc.ingest([listing], venue="ICML", year=2024, progress=False)
    pc.store().close()
    return folder / "store"


@pytest.fixture(scope="module")
def with_auth_flag(store) -> Iterator[Served]:
    served = start(store, "--auth", f"{USER}:{PASSWORD}")
    try:
        yield served
    finally:
        stop(served)


def login(client: httpx.Client, password: str) -> httpx.Response:
    return client.post("/login", data={"username": USER, "password": password})


@pytest.mark.slow
def test_serve_listens_on_loopback_and_prints_its_url(with_auth_flag: Served) -> None:
    assert f"paperchat: serving 3 papers at http://127.0.0.1:{with_auth_flag.port}/ (login required)" in with_auth_flag.output()
    assert listening_addresses(with_auth_flag.port) == {"127.0.0.1"}
    outward = outward_address()
    if outward:
        with socket.socket() as sock:
            sock.settimeout(2)
            assert sock.connect_ex((outward, with_auth_flag.port)) != 0, f"reachable on {outward}"


@pytest.mark.slow
def test_serve_makes_no_share_link_without_share(with_auth_flag: Served) -> None:
    output = with_auth_flag.output().lower()
    assert "gradio.live" not in output and "share link" not in output and "public" not in output


@pytest.mark.slow
def test_auth_flag_refuses_strangers_and_admits_the_login(with_auth_flag: Served) -> None:
    with httpx.Client(base_url=with_auth_flag.url, timeout=30) as client:
        page = client.get("/")
        assert page.status_code == 200 and "Ask a question: the papers an answer cites" not in page.text
        assert client.get("/config").status_code == 401
        assert client.post("/gradio_api/queue/join", json={"data": [], "fn_index": 0, "session_hash": "x"}).status_code == 401
        assert login(client, "wrong").status_code == 400
        assert client.get("/config").status_code == 401
        assert login(client, PASSWORD).status_code == 200
        config = client.get("/config")
        assert config.status_code == 200 and "Ask a question: the papers an answer cites" in config.text


@pytest.mark.slow
def test_auth_from_the_environment_works_the_same(store: Path) -> None:
    served = start(store, env={"PAPERCHAT_AUTH": f"{USER}:{PASSWORD}"})
    try:
        assert "(login required)" in served.output()
        with httpx.Client(base_url=served.url, timeout=30) as client:
            assert client.get("/config").status_code == 401
            assert login(client, "nope").status_code == 400
            assert login(client, PASSWORD).status_code == 200
            assert client.get("/config").status_code == 200
    finally:
        stop(served)


def test_serve_passes_host_port_auth_model_and_no_share(store: Path, monkeypatch) -> None:
    """The flags reach the server as given; the defaults are loopback, port 7860, no share link."""
    import app.serve
    from app.cli import main

    calls: list[dict] = []
    monkeypatch.setattr(app.serve, "serve", lambda pc, **kw: calls.append({"model": pc.settings.llm_model, **kw}))
    monkeypatch.delenv("PAPERCHAT_AUTH", raising=False)
    assert main(["serve", "--data-dir", str(store), "--llm", "extractive"]) == 0
    assert main(["serve", "--data-dir", str(store), "--llm", "extractive", "--model", "gpt-4o-mini",
                 "--auth", "u:p", "--host", "0.0.0.0", "--port", "8000"]) == 0
    assert calls[0] == {"model": None, "host": "127.0.0.1", "port": 7860, "auth": None, "share": False}
    assert calls[1] == {"model": "gpt-4o-mini", "host": "0.0.0.0", "port": 8000, "auth": ("u", "p"), "share": False}
