"""The `paperchat` command line as scripts use it: JSON contracts, filters, errors, config.

Every test runs the real console entry point in a subprocess (see the ``run_cli`` fixture),
so argument parsing, exit status and what reaches stdout/stderr are all exercised.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.papers import UNTITLED_NOTE

FIXTURES = Path(__file__).parent / "fixtures"
PAPER_FIELDS = {"id", "title", "authors", "abstract", "venue", "year", "status", "url", "score", "sources"}
DP_QUESTION = "Which orals study differential privacy?"
FAKE_KEY = "sk-test-SECRET-9876"


def _json(result) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _assert_one_line_error(result, *fragments: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    message = result.stderr.strip()
    assert message.startswith("paperchat: error:") and "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message


def _assert_paper_fields(paper: dict) -> None:
    assert PAPER_FIELDS <= set(paper), sorted(PAPER_FIELDS - set(paper))
    assert isinstance(paper["authors"], list) and all(isinstance(a, str) for a in paper["authors"])
    assert paper["title"] is None or (isinstance(paper["title"], str) and paper["title"])
    assert isinstance(paper["score"], float)
    assert (paper["venue"], paper["year"], paper["status"]) == ("ICML", 2024, "Oral")
    assert paper["sources"] and {"file", "entry"} <= set(paper["sources"][0])


# ------------------------------------------------------------------------ JSON contracts


def test_search_json_has_the_paper_fields(run_cli, bundled_store):
    data = _json(run_cli("search", DP_QUESTION, "--json", "--data-dir", bundled_store))

    papers = data["papers"]
    assert papers, data
    assert data["searched"] == 144 and data["matched"] == len(papers)
    for paper in papers:
        _assert_paper_fields(paper)
    scores = [p["score"] for p in papers]
    assert scores == sorted(scores, reverse=True)
    untitled = [p for p in papers if p["title"] is None]
    assert untitled, "differential privacy orals include untitled papers in the two text files"
    assert all(UNTITLED_NOTE in p["citation"] for p in untitled)


def test_search_k_caps_the_list(run_cli, bundled_store):
    data = _json(run_cli("search", DP_QUESTION, "-k", "2", "--json", "--data-dir", bundled_store))
    assert len(data["papers"]) == 2


def test_ask_json_has_answer_citations_with_evidence_and_backend(run_cli, bundled_store):
    data = _json(run_cli("ask", DP_QUESTION, "--json", "--data-dir", bundled_store))

    assert {"answer", "citations", "backend"} <= set(data)
    assert data["backend"] == "extractive"
    assert data["citations"]
    for paper in data["citations"]:
        _assert_paper_fields(paper)
        assert paper["evidence"] and paper["evidence"].strip(" .…\"") in paper["abstract"]
        assert paper["citation"] in data["answer"]


def test_ask_in_the_terminal_shows_listing_markup_as_text(run_cli, bundled_store):
    """ViP's abstract is listed as ``*ViP*---a **Vi**sion ... $\\epsilon=8$``: a reader sees
    "ViP—a Vision ... ε=8"; ``--json`` keeps the listing's own text."""
    shown = run_cli("ask", "Which orals study DP-SGD?", "--data-dir", bundled_store, check=0).stdout
    assert "ViP—a Vision transformer" in shown and "ε=8" in shown
    assert "$" not in shown and "**" not in shown
    listed = _json(run_cli("ask", "Which orals study DP-SGD?", "--json", "--data-dir", bundled_store))["answer"]
    assert "$\\epsilon=8$" in listed


def test_stats_json_counts_the_store(run_cli, bundled_store):
    stats = _json(run_cli("stats", "--json", "--data-dir", bundled_store))

    assert (stats["records"], stats["with_title"], stats["without_title"]) == (144, 25, 119)
    assert stats["with_abstract"] == 144
    assert stats["with_affiliations"] == 0  # neither text listing names institutions
    assert stats["by_status"] == {"Oral": 144}
    assert stats["by_venue"] == {"ICML 2024": 144}


# ------------------------------------------------------------------------ filters and errors


def test_where_status_filters_results(run_cli, bundled_store):
    kept = _json(run_cli("search", DP_QUESTION, "--where", "status=Oral", "--json", "--data-dir", bundled_store))
    none = _json(run_cli("search", DP_QUESTION, "--where", "status=Poster", "--json", "--data-dir", bundled_store))

    assert kept["filters"] == {"status": "Oral"}
    assert kept["papers"] and all(p["status"] == "Oral" for p in kept["papers"])
    assert none["searched"] == 0 and none["papers"] == []


def test_unknown_where_field_is_a_one_line_error(run_cli, bundled_store):
    result = run_cli("search", DP_QUESTION, "--where", "bogus=1", "--data-dir", bundled_store)
    _assert_one_line_error(result, "bogus", "status")


def test_search_without_a_store_says_to_ingest(run_cli, tmp_path):
    missing = tmp_path / "nothing-here"
    result = run_cli("search", DP_QUESTION, "--data-dir", missing)

    _assert_one_line_error(result, "run `paperchat ingest", str(missing))
    assert not missing.exists(), "a search must not create an empty store"


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("ingest", ["--data-dir", "--format", "--venue", "--year", "--status", "--rebuild"]),
        ("search", ["-k", "--where", "--json", "--data-dir"]),
        ("ask", ["--where", "--llm", "--json", "--data-dir"]),
        ("stats", ["--json", "--data-dir"]),
        ("eval", ["--json", "--reference", "--report", "--data-dir"]),
        ("config", ["--json"]),
    ],
)
def test_subcommand_help_lists_its_options(run_cli, command, options):
    result = run_cli(command, "--help", check=0)
    for option in options:
        assert option in result.stdout, f"`paperchat {command} --help` does not mention {option}"


def test_config_never_prints_the_api_key(run_cli, cli_env):
    env = {**cli_env, "OPENAI_API_KEY": FAKE_KEY}
    for args in (["config"], ["config", "--json"]):
        result = run_cli(*args, env=env, check=0)
        assert FAKE_KEY not in result.stdout + result.stderr
        assert "SECRET" not in result.stdout + result.stderr
    values = json.loads(result.stdout)
    assert values["openai_api_key"] not in (None, "")  # it says the key is set, without showing it


# ------------------------------------------------------------------------ index identity


def test_embedder_mismatch_is_explained_and_rebuild_fixes_it(run_cli, cli_env, tmp_path):
    data_dir = tmp_path / "store"
    listing = FIXTURES / "tiny_paperscool.txt"
    hashing_env = {**cli_env, "PAPERCHAT_EMBEDDER": "hashing-384"}
    run_cli("ingest", listing, "--data-dir", data_dir, "--no-progress", env=hashing_env, check=0)

    mismatch = run_cli("search", "gradient descent", "--data-dir", data_dir)
    _assert_one_line_error(mismatch, "hashing-384", "minilm-l6-int8", "--rebuild")

    run_cli("ingest", listing, "--rebuild", "--data-dir", data_dir, "--no-progress", check=0)
    fixed = _json(run_cli("search", "gradient descent", "--json", "--data-dir", data_dir))
    assert "Fast & Slow Gradient Descent" in [p["title"] for p in fixed["papers"]]
    stats = _json(run_cli("stats", "--json", "--data-dir", data_dir))
    assert (stats["embedder"], stats["records"]) == ("minilm-l6-int8", 3)


@pytest.mark.parametrize("examples", ["EPILOG", "SEARCH_EXAMPLES", "ASK_EXAMPLES"])
def test_every_example_the_help_shows_is_a_valid_command_line(examples):
    """Help examples are what a user copies: each must parse with today's flags (a renamed or
    removed option makes argparse exit)."""
    import shlex

    from app import cli

    parser = cli.build_parser()
    lines = [line.strip() for line in getattr(cli, examples).splitlines() if line.strip().startswith("paperchat ")]
    assert lines
    for line in lines:
        words = shlex.split(line.split(" | ")[0])[1:]
        args = parser.parse_args(words)
        assert args.command == words[0]
