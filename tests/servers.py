"""Real server processes for the hardening tests: `paperchat serve`, `chroma run`, and a model
server that fails while quoting the API key back.

Each is a context manager that starts the real thing on a free loopback port and stops it
(terminate, then kill) on exit, so a failing test never leaves a process behind:

    with PaperchatServer(store, env) as page:        # `paperchat serve --data-dir store`
        html = http_get(page.url).text
    with ChromaServer(tmp_path / "db") as chroma:    # `chroma run --path ... --port ...`
        chroma.stop(); chroma.start()                # same path and port: a restart
    with KeyEchoServer(status=500) as model:         # OPENAI_BASE_URL=model.url
        ...

Output of the two subprocesses goes to a log file (``.log_path``), read with ``.output()``,
so tests can check what a user would see in the terminal.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: Seconds a server may take to come up on a loaded 2-core machine before the test fails.
START_TIMEOUT = 180.0
#: Loopback only and never through a proxy a developer may have configured.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Fetched:
    """One HTTP response, kept whole (status, headers, body) whatever the status."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def http_get(url: str, timeout: float = 30.0) -> Fetched:
    """GET ``url`` exactly as written (no normalisation of ``..`` or ``%2e``), any status."""
    request = urllib.request.Request(url, method="GET")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return Fetched(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Fetched(error.code, dict(error.headers), error.read())


def raw_get(port: int, target: str, timeout: float = 30.0) -> Fetched:
    """Send ``GET target`` byte for byte over a socket.

    urllib (and browsers) resolve ``/a/../b`` before sending; an attacker's client does not,
    so traversal variants are sent raw to test what the server does with them.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    if headers.get("transfer-encoding", headers.get("Transfer-Encoding", "")).lower() == "chunked":
        body = _unchunk(body)
    return Fetched(status, headers, body)


def _unchunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return out


class _Process:
    """A subprocess whose output goes to a log file, stopped gently then firmly."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def _spawn(self, command: list[str], env: dict[str, str], cwd: Path = ROOT) -> None:
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()  # the child keeps its own descriptor

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def _wait_until(self, ready: Any, what: str, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise RuntimeError(f"{what} exited with {code}:\n{self.output()[-4000:]}")
            if ready():
                return
            time.sleep(0.3)
        raise RuntimeError(f"{what} was not ready within {timeout:.0f}s:\n{self.output()[-4000:]}")


def page_env(base: dict[str, str], **extra: str) -> dict[str, str]:
    """``base`` (a clean CLI environment) set up for serving the page: extractive answers,
    unbuffered output, no analytics; ``extra`` on top."""
    env = dict(base)
    env.update(PAPERCHAT_LLM="extractive", PYTHONUNBUFFERED="1", GRADIO_ANALYTICS_ENABLED="False")
    env.update(extra)
    return env


class PaperchatServer(_Process):
    """`paperchat serve --data-dir STORE --port PORT` as a user starts it."""

    def __init__(self, data_dir: Path, env: dict[str, str], log_path: Path | None = None,
                 args: tuple[str, ...] = ()) -> None:  # fmt: skip
        super().__init__(log_path or Path(data_dir).parent / f"serve-{free_port()}.log")
        self.data_dir = Path(data_dir)
        self.env = env
        self.args = args
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> PaperchatServer:
        # the console script's own entry point, run from this checkout (what `paperchat` runs)
        command = [sys.executable, "-m", "app.cli"]
        self._spawn([*command, "serve", "--data-dir", str(self.data_dir), "--port", str(self.port), *self.args],
                    self.env)  # fmt: skip
        self._wait_until(lambda: "serving" in self.output() and _listening(self.port), "paperchat serve")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class ChromaServer(_Process):
    """`chroma run --path DIR --port PORT --host 127.0.0.1`; ``stop``/``start`` keep path and port."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        super().__init__(self.path.parent / f"{self.path.name}-chroma.log")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.binary = Path(sys.executable).with_name("chroma")

    def start(self) -> None:
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
        self._spawn([str(self.binary), "run", "--path", str(self.path), "--port", str(self.port),
                     "--host", "127.0.0.1"], env, cwd=self.path)  # fmt: skip
        self._wait_until(self._heartbeat, "chroma run")

    def _heartbeat(self) -> bool:
        try:
            return http_get(f"{self.url}/api/v2/heartbeat", timeout=2).status == 200
        except OSError:
            return False

    def __enter__(self) -> ChromaServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class KeyEchoServer:
    """An OpenAI-protocol endpoint that fails every request and quotes the caller's key.

    Real servers do this: OpenAI's 401 says "Incorrect API key provided: sk-...", proxies
    and self-hosted servers put the Authorization header in their error text. The worst case
    is tested: the whole ``Authorization`` header, verbatim, in the error message.
    """

    def __init__(self, status: int = 500) -> None:
        self.status = status
        self.requests = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _fail(self) -> None:
                outer.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                auth = self.headers.get("Authorization", "")
                body = json.dumps({"error": {
                    "message": f"upstream rejected the request (credentials {auth!r}, key {auth.removeprefix('Bearer ')})",
                    "type": "server_error", "code": None,
                }}).encode()  # fmt: skip
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _fail

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

        return Handler

    def __enter__(self) -> KeyEchoServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any ``PAPERCHAT_*`` / ``OPENAI_*`` variable (a developer's
    settings must not leak into a test), telemetry off, ``extra`` on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERCHAT_", "OPENAI_"))}
    env.update(ANONYMIZED_TELEMETRY="False", GRADIO_ANALYTICS_ENABLED="False", PYTHONIOENCODING="utf-8")
    env.update(extra)
    return env


def endpoint_index(base_url: str, api_name: str) -> int:
    """The ``fn_index`` of a named event in the page's config (what a raw client posts)."""
    config = json.loads(http_get(f"{base_url}/config").body)
    for index, dependency in enumerate(config["dependencies"]):
        if dependency.get("api_name") == api_name:
            return int(dependency.get("id", index))
    raise KeyError(f"no event named {api_name!r} on {base_url}")


def queue_call(base_url: str, fn_index: int, data: list[Any], session_hash: str,
               timeout: float = 120.0) -> dict[str, Any]:  # fmt: skip
    """Run one queued event over Gradio's HTTP protocol, as a hand-written client would:
    POST ``queue/join``, then read ``queue/data`` (server-sent events) until it completes.

    Returns the ``process_completed`` message (``output.data`` holds the outputs, ``success``
    says whether the handler raised). No gradio_client, so nothing is uploaded or rewritten:
    what is sent is exactly ``data``.
    """
    body = json.dumps({"data": data, "fn_index": fn_index, "session_hash": session_hash,
                       "event_data": None, "trigger_id": None}).encode()  # fmt: skip
    join = urllib.request.Request(f"{base_url}/gradio_api/queue/join", data=body, method="POST",
                                  headers={"Content-Type": "application/json"})  # fmt: skip
    with _OPENER.open(join, timeout=timeout) as response:
        event_id = json.loads(response.read())["event_id"]
    stream = urllib.request.Request(f"{base_url}/gradio_api/queue/data?session_hash={session_hash}")
    with _OPENER.open(stream, timeout=timeout) as response:
        for raw in response:
            line = raw.decode("utf-8", "replace").strip()
            if not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            if message.get("event_id") not in (None, event_id):
                continue
            if message.get("msg") == "process_completed":
                return message
    raise RuntimeError(f"event {event_id} did not complete")


def event_api_name(base_url: str, elem_id: str, trigger: str = "click") -> str:
    """The API name of the event ``trigger`` on the component with ``elem_id`` (e.g. the
    "New chat" button), found in the page config so it survives layout changes."""
    config = json.loads(http_get(f"{base_url}/config").body)
    ids = {c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == elem_id}
    for dependency in config["dependencies"]:
        if any(target[0] in ids and target[1] == trigger for target in dependency.get("targets", [])):
            return "/" + str(dependency["api_name"])
    raise KeyError(f"no {trigger} event on #{elem_id} at {base_url}")
