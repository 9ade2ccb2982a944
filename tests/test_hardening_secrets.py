"""The OpenAI key never leaves the process: not in CLI output, logs, answers, the page or exports.

A recognisable fake key is configured and the model server is one that fails every request
while quoting the caller's ``Authorization`` header in its error message (the worst an
upstream does), or a port where nothing listens. The answer must still come (extractive,
with a notice saying what failed) and the key must appear nowhere a user, a log file or
another visitor of the page could see it. Every place looked at is a row of the hardening
table.
"""

from __future__ import annotations

import json
import logging
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from servers import ROOT, KeyEchoServer, PaperchatServer, clean_env, free_port, http_get, page_env

#: Recognisable, and with a random tail, so a match can only be a leak of this very key.
TAIL = secrets.token_hex(8)
KEY = f"sk-test-LEAKCHECK-{TAIL}"
QUESTION = "Which orals study DP-SGD?"


def leaks(text: str) -> bool:
    """Whether ``text`` shows the key, whole or by its random part."""
    return KEY in text or TAIL in text


def model_env(base_url: str, backend: str = "openai") -> dict[str, str]:
    """The key and a model server configured as a user would, with one attempt per request."""
    return clean_env(
        OPENAI_API_KEY=KEY, OPENAI_BASE_URL=base_url, PAPERCHAT_LLM=backend, PAPERCHAT_LLM_RETRIES="0",
        PAPERCHAT_LLM_TIMEOUT="20", PAPERCHAT_LOCAL_MODEL="/nonexistent/model.gguf",
    )  # fmt: skip


def cli(args: list[str], env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, encoding="utf-8", timeout=600)  # fmt: skip


@pytest.fixture(scope="module")
def failing_model() -> Iterator[KeyEchoServer]:
    """HTTP 500 on every request, the Authorization header quoted in the error message."""
    with KeyEchoServer(status=500) as server:
        yield server


UPSTREAMS = {
    "HTTP 500 quoting the key": 500,
    "HTTP 400 quoting the key": 400,
    "HTTP 404 quoting the key": 404,
    "HTTP 401 quoting the key": 401,
    "connection refused": None,
}


@pytest.mark.parametrize("backend", ["openai", "openai-compatible"])
@pytest.mark.parametrize("upstream", list(UPSTREAMS))
def test_a_failing_model_server_never_gets_the_key_into_an_answer(bundled_store: Path, upstream: str,
                                                                  backend: str, hardening,
                                                                  caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """In-process (the Python API), with every log record captured down to DEBUG."""
    from app import PaperChat
    from app.settings import Settings

    status = UPSTREAMS[upstream]
    server = KeyEchoServer(status=status) if status else None
    base_url = server.url if server else f"http://127.0.0.1:{free_port()}/v1"
    env = model_env(base_url, backend)
    settings = Settings(**{  # the same values the environment would give
        "openai_api_key": KEY, "llm_base_url": base_url, "llm": backend, "llm_retries": 0,
        "llm_timeout": 20, "local_model": env["PAPERCHAT_LOCAL_MODEL"],
    })  # fmt: skip
    caplog.set_level(logging.DEBUG)
    if server:
        server.__enter__()
    try:
        answer = PaperChat(data_dir=bundled_store, settings=settings).ask(QUESTION)
    finally:
        if server:
            server.__exit__(None, None, None)
    shown = json.dumps(answer.to_dict(), ensure_ascii=False) + answer.text
    hardening.record(
        "secrets", f"{backend}, {upstream}: answer and logs",
        f"answered by {answer.backend}; notice {answer.notices[0][:90] if answer.notices else '(none)'!r}; "
        f"key in answer: {leaks(shown)}, in logs: {leaks(caplog.text)}",
    )
    assert answer.backend == "extractive" and answer.citations, answer.to_dict()
    assert answer.notices and any(backend in n for n in answer.notices), answer.notices
    assert not leaks(shown), answer.notices
    assert not leaks(caplog.text), [line for line in caplog.text.splitlines() if leaks(line)]
    if status and status != 401:  # the server's own words stay, minus the key: still useful
        assert any(f"HTTP {status}" in n for n in answer.notices), answer.notices


@pytest.mark.slow
def test_cli_ask_chat_search_and_config_never_print_the_key(bundled_store: Path, failing_model: KeyEchoServer,
                                                            hardening) -> None:  # fmt: skip
    env = model_env(failing_model.url)
    store = ["--data-dir", str(bundled_store)]
    runs = {
        "paperchat ask": cli(["ask", QUESTION, *store], env),
        "paperchat ask --json": cli(["ask", QUESTION, "--json", *store], env),
        "paperchat chat": cli(["chat", *store], env, stdin=f"{QUESTION}\n/sources\n/quit\n"),
        "paperchat search": cli(["search", QUESTION, *store], env),
        "paperchat config": cli(["config"], env),
        "paperchat config --json": cli(["config", "--json"], env),
    }
    for name, run in runs.items():
        leaked = leaks(run.stdout + run.stderr)
        hardening.record("secrets", f"{name} output (server quoting the key)",
                         f"exit {run.returncode}; key in stdout/stderr: {leaked}",
                         held=run.returncode == 0 and not leaked)  # fmt: skip
    for name, run in runs.items():
        assert run.returncode == 0, (name, run.stderr[-2000:])
        assert not leaks(run.stdout + run.stderr), (name, run.stdout[-2000:], run.stderr[-2000:])
    assert "openai failed" in runs["paperchat ask"].stderr  # the user is told, without the key
    assert json.loads(runs["paperchat config --json"].stdout)["openai_api_key"] == "<set, hidden>"


@pytest.mark.slow
def test_the_page_its_api_exports_and_server_log_never_show_the_key(bundled_store: Path,
                                                                    failing_model: KeyEchoServer,
                                                                    tmp_path: Path, hardening) -> None:  # fmt: skip
    from gradio_client import Client

    env = page_env(model_env(failing_model.url), PAPERCHAT_LLM="openai")
    seen: dict[str, str] = {}
    with PaperchatServer(bundled_store, env, log_path=tmp_path / "serve.log") as page:
        for route in ("/", "/config", "/gradio_api/info", "/gradio_api/info?all_endpoints=true",
                      "/gradio_api/startup-events", "/theme.css"):  # fmt: skip
            seen[f"GET {route}"] = http_get(page.url + route).text
        client = Client(page.url + "/", verbose=False, download_files=False)
        outputs = client.predict(QUESTION, [], "any", "any", "any", False, api_name="/respond")
        client.close()
        seen["answer, sources, status and notices"] = json.dumps(outputs, ensure_ascii=False)
        for update in outputs:
            value = update.get("value") if isinstance(update, dict) else None
            path = value.get("path") if isinstance(value, dict) else value
            if isinstance(path, str) and path.endswith((".bib", ".csv")):
                seen[f"exported {Path(path).suffix[1:].upper()}"] = http_get(f"{page.url}/gradio_api/file={path}").text
    seen["serve stdout/stderr"] = page.output()
    for name, text in seen.items():
        hardening.record("secrets", f"page: {name}", f"{len(text)} characters; key shown: {leaks(text)}",
                         held=not leaks(text))
    assert "openai failed" in seen["answer, sources, status and notices"]  # the failure was shown
    assert {"exported BIB", "exported CSV"} <= set(seen)
    assert not [name for name, text in seen.items() if leaks(text)]


def test_a_key_of_any_shape_is_redacted_from_what_the_server_quotes(bundled_store: Path, hardening) -> None:
    """Not every key looks like ``sk-...`` (vLLM and proxies take any string): the exact key
    the request carried is what gets redacted, whatever its shape."""
    from app import PaperChat
    from app.settings import Settings

    plain = f"LEAKCHECK{TAIL}"
    with KeyEchoServer(status=503) as server:
        settings = Settings(openai_api_key=plain, llm_base_url=server.url, llm="openai", llm_retries=0,
                            llm_timeout=20, local_model="/nonexistent/model.gguf")  # fmt: skip
        answer = PaperChat(data_dir=bundled_store, settings=settings).ask(QUESTION)
    shown = json.dumps(answer.to_dict(), ensure_ascii=False)
    hardening.record("secrets", "a key not shaped like sk-..., quoted by an HTTP 503",
                     f"notice {answer.notices[0][:90] if answer.notices else '(none)'!r}; key shown: {plain in shown}")
    assert answer.backend == "extractive" and answer.citations
    assert any("HTTP 503" in n and "[redacted]" in n for n in answer.notices), answer.notices
    assert plain not in shown and TAIL not in shown
