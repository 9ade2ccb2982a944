"""The hardening results table: case -> what happened -> records lost, written at session end.

Tests that try a bad input, a crash, an upstream failure or an exposure record one row per
case through the ``hardening`` fixture (see ``conftest.py``)::

    def test_x(hardening):
        happened = ...                      # observe first
        hardening.record("questions", "empty question (CLI ask)", happened, lost=0)
        assert ...                          # then assert; a failed test marks its rows FAILED

At the end of the session the rows are merged into ``test-artifacts/hardening.json`` (keyed
by area and case, so running the test files one at a time builds one table) and rendered as
``test-artifacts/hardening.md`` with the count of cases tried.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@dataclass
class Row:
    """One case tried: where, what, what the user got, records lost, and whether it held."""

    area: str
    case: str
    happened: str
    lost: int
    test: str
    outcome: str = "passed"
    run: str = ""
    decided: bool = False


class HardeningTable:
    """Rows recorded this session; :meth:`write` merges them with earlier runs' rows."""

    def __init__(self, directory: Path = ARTIFACTS) -> None:
        self.directory = directory
        self.rows: list[Row] = []

    def write(self) -> None:
        if not self.rows:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / "hardening.json"
        merged: dict[tuple[str, str], Row] = {}
        if path.exists():
            try:
                for item in json.loads(path.read_text(encoding="utf-8")).get("rows", []):
                    row = Row(**item)
                    merged[(row.area, row.case)] = row
            except (ValueError, TypeError):
                merged = {}  # an unreadable old table is replaced, not trusted
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        for row in self.rows:
            row.run = stamp
            merged[(row.area, row.case)] = row
        rows = sorted(merged.values(), key=lambda r: (r.area, r.test, r.case))
        summary = {
            "cases": len(rows),
            "failed": sum(r.outcome != "passed" for r in rows),
            "records_lost": sum(r.lost for r in rows),
        }
        path.write_text(json.dumps({"summary": summary, "rows": [asdict(r) for r in rows]},
                                   ensure_ascii=False, indent=2) + "\n", encoding="utf-8")  # fmt: skip
        (self.directory / "hardening.md").write_text(render_markdown(rows, summary), encoding="utf-8")


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def render_markdown(rows: list[Row], summary: dict[str, int]) -> str:
    """The table for the closing note."""
    lines = [
        "# Hardening results",
        "",
        f"{summary['cases']} cases tried, {summary['failed']} failed, "
        f"{summary['records_lost']} records lost.",
        "",
        "| area | case | what happened | records lost | result |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(f"| {_cell(row.area)} | {_cell(row.case)} | {_cell(row.happened)} | {row.lost} | "
                     f"{'ok' if row.outcome == 'passed' else 'FAILED'} |")  # fmt: skip
    return "\n".join(lines) + "\n"


class Recorder:
    """What a test gets from the ``hardening`` fixture: ``record(area, case, happened, lost)``."""

    def __init__(self, test: str) -> None:
        self.test = test
        self.rows: list[Row] = []

    def record(self, area: str, case: str, happened: str, lost: int = 0, held: bool | None = None) -> None:
        """One case. ``held`` says whether this case behaved; left out, the test's own result
        decides (a test that fails marks all of its undecided rows FAILED)."""
        row = Row(area, case, happened, lost, self.test)
        if held is not None:
            row.outcome = "passed" if held else "failed"
            row.decided = True
        self.rows.append(row)
