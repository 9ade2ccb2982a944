"""Shared fixtures: real stores built once per session from the real listings.

Everything here uses real components (the bundled listing files, the packaged MiniLM
embedder, an on-disk Chroma directory), so tests see what a user sees. Fixture names are
stable; other test modules (UI, generative backends, benchmarks) rely on them.

``repo_root`` (session) -> Path
    The repository root (the directory holding ``pyproject.toml``).

``bundled_build`` (session) -> BuiltStore
    The bundled store and the :class:`~ingest.pipeline.IngestReport` that built it:
    ``PaperChat(data_dir=tmp).ingest([repo_root / "data/listings"], venue="ICML",
    year=2024, progress=False)``. 144 records, 25 of them titled. About 25 s on an idle
    2-core machine, once per session.

``bundled_store`` (session) -> Path
    ``bundled_build.data_dir``: open it with ``PaperChat(data_dir=bundled_store)`` or pass
    ``--data-dir`` to the CLI. Treat it as read-only: it is shared by every test; to change a
    store, copy it (``shutil.copytree``) or build a small one from ``tests/fixtures``.

``merged_store`` (session) -> Path
    The bundled listings plus ``../shared/listings/paperlists_icml2024.json``: 2,610 records,
    every oral titled. Embedding 2,610 titles takes 2-3 minutes, so tests using it must be
    marked ``@pytest.mark.slow``. Skips cleanly when the shared listings are absent.

``shared_dir`` (session) -> Path
    ``../shared`` next to the repository (may not exist on a fresh clone).

``cli_env`` (function) -> dict[str, str]
    An environment for running ``paperchat`` in a subprocess: the current one without any
    ``PAPERCHAT_*`` / ``OPENAI_*`` variables (so a developer's settings cannot leak into a
    test), with telemetry off and ``PAPERCHAT_LLM=extractive``. Add to it for the case at hand.

``run_cli`` (function) -> callable
    ``run_cli(*args, env=None, check=None) -> subprocess.CompletedProcess`` runs the real
    console entry point (``python -m app.cli ARGS``) from the repository root with
    ``cli_env`` (or ``env``), capturing text output. ``check=0`` (or another code) asserts the
    exit status and shows stdout/stderr when it differs.

``hardening`` (function) -> Recorder
    ``hardening.record(area, case, happened, lost=0, held=None)`` adds a row to the hardening
    table (bad input, crashes, upstream failures, exposure): ``test-artifacts/hardening.json``
    and ``hardening.md``, written at the end of the session. See ``tests/hardening_table.py``.

The environment variables below are set at import, before anything imports chromadb or
gradio, so no test can send telemetry.
"""

from __future__ import annotations

import os

os.environ["ANONYMIZED_TELEMETRY"] = "False"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
# Tests answer with the extractive backend unless they name another: a model this machine
# happens to offer (the local model `make install` builds, a key in the shell) must not change
# what a test sees, or make it wait for generation.
os.environ["PAPERCHAT_LLM"] = "extractive"

import subprocess  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from ingest.pipeline import IngestReport  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(__file__).resolve().parents[2] / "shared"
PAPERLISTS_NAME = "paperlists_icml2024.json"
#: Seconds one CLI run may take before the test fails instead of hanging (loaded CI machines).
CLI_TIMEOUT = 600


@dataclass(frozen=True)
class BuiltStore:
    """A store directory and the report of the ingest that built it."""

    data_dir: Path
    report: IngestReport


def _build(data_dir: Path, paths: list[Path]) -> IngestReport:
    from app import PaperChat

    pc = PaperChat(data_dir=data_dir)
    report = pc.ingest(paths, venue="ICML", year=2024, progress=False)
    pc.store().close()  # release the directory so tests may copy or reopen it
    return report


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return SHARED_DIR


@pytest.fixture(scope="session")
def bundled_build(tmp_path_factory: pytest.TempPathFactory) -> BuiltStore:
    data_dir = tmp_path_factory.mktemp("bundled_store")
    report = _build(data_dir, [REPO_ROOT / "data" / "listings"])
    return BuiltStore(data_dir, report)


@pytest.fixture(scope="session")
def bundled_store(bundled_build: BuiltStore) -> Path:
    return bundled_build.data_dir


@pytest.fixture(scope="session")
def merged_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    paperlists = SHARED_DIR / "listings" / PAPERLISTS_NAME
    if not paperlists.is_file():
        pytest.skip(f"{paperlists} is not available (the shared listings are not checked out)")
    data_dir = tmp_path_factory.mktemp("merged_store")
    _build(data_dir, [REPO_ROOT / "data" / "listings", paperlists])
    return data_dir


@pytest.fixture
def cli_env() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PAPERCHAT_", "OPENAI_"))
    }
    env.update(ANONYMIZED_TELEMETRY="False", GRADIO_ANALYTICS_ENABLED="False", PYTHONIOENCODING="utf-8",
               PAPERCHAT_LLM="extractive")  # fmt: skip
    return env


@pytest.fixture
def run_cli(cli_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(*args: str | os.PathLike[str], env: dict[str, str] | None = None,
            check: int | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
        result = subprocess.run(
            [sys.executable, "-m", "app.cli", *map(str, args)],
            cwd=REPO_ROOT,
            env=env if env is not None else cli_env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=CLI_TIMEOUT,
        )
        if check is not None:
            assert result.returncode == check, (
                f"`paperchat {' '.join(map(str, args))}` exited {result.returncode}, "
                f"expected {check}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
            )
        return result

    return run


# ----------------------------------------------------------------------- hardening table


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Keep each phase's report on the test item, so fixtures can see whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def hardening_table():
    """Rows recorded by every test this session, written to test-artifacts/ at the end."""
    from hardening_table import HardeningTable

    table = HardeningTable()
    yield table
    table.write()


@pytest.fixture
def hardening(request: pytest.FixtureRequest, hardening_table):
    """``hardening.record(area, case, happened, lost=0)``: one row of the hardening table
    (see tests/hardening_table.py); rows of a test that fails are marked FAILED."""
    from hardening_table import Recorder

    recorder = Recorder(request.node.nodeid)
    yield recorder
    report = getattr(request.node, "rep_call", None)
    for row in recorder.rows:
        if not row.decided:
            row.outcome = "passed" if report is not None and report.passed else "failed"
    hardening_table.rows.extend(recorder.rows)
