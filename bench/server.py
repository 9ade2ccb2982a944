"""A ``chroma run`` server on loopback, serving a copy of a store built in embedded mode.

Users move to the server when several processes must share one index (one Chroma
directory allows one writer). Serving a *copy* of the embedded store's directory measures
the client/server path on identical data without embedding anything again.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def chroma_binary() -> Path:
    """The ``chroma`` CLI installed beside this interpreter (the venv's), not one on PATH."""
    return Path(sys.executable).parent / "chroma"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_heartbeat(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxy
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"`chroma run` exited with code {process.returncode}")
        try:
            with opener.open(f"{url}/api/v2/heartbeat", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise RuntimeError(f"`chroma run` gave no heartbeat at {url} within {timeout:.0f}s")


@contextmanager
def chroma_server(store_dir: Path, work: Path) -> Iterator[str]:
    """Serve a copy of ``store_dir/chroma`` on 127.0.0.1; yields the URL; stops it after."""
    binary = chroma_binary()
    if not binary.exists():
        raise FileNotFoundError(f"no chroma CLI next to {sys.executable}: pip install chromadb")
    served = work / "served"
    shutil.rmtree(served, ignore_errors=True)
    shutil.copytree(store_dir / "chroma", served)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (work / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [str(binary), "run", "--path", str(served), "--port", str(port), "--host", "127.0.0.1"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
        try:
            wait_for_heartbeat(url, process)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
