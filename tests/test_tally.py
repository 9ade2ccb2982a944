"""Questions about how many papers there are: "How many orals are there?".

Searched as a topic, "orals are there" matched nothing and the answer said no paper answers
it. Now a bare count is answered from the catalogue, with the filters the question implies,
and a count beside a topic ("How many orals study DP-SGD?") stays a search.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from app import PaperChat
from app.papers import NO_ANSWER
from app.settings import Settings
from app.tally import Tally, read_tally, tally_line
from ingest.records import PaperRecord
from openai_stub import FAKE_KEY, running_stub


@pytest.fixture(scope="module")
def pc(bundled_store) -> PaperChat:
    return PaperChat(data_dir=bundled_store, llm="extractive")


@pytest.mark.parametrize(
    ("question", "noun"),
    [
        ("How many orals are there?", "orals"),
        ("How many papers are in the listings?", "papers"),
        ("how many papers in total", "papers"),
        ("How many posters were accepted at ICML 2024?", "posters"),
        ("How many ICML 2024 orals are there?", "orals"),
        ("What is the number of spotlights?", "spotlights"),
        ("How many talks does the conference have?", "talks"),
        ("Count the papers", "papers"),
    ],
)
def test_a_bare_count_is_read_as_a_tally(question: str, noun: str) -> None:
    assert read_tally(question, {"ICML"}, {2024}) == Tally(noun)


@pytest.mark.parametrize(
    ("question", "missing"),
    [
        ("How many papers have no abstract?", "abstract"),
        ("How many orals are missing a title?", "title"),
        ("How many papers lack titles?", "title"),
        ("How many posters are without an abstract?", "abstract"),
        ("Which orals have no title?", "title"),
        ("What are the untitled papers?", "title"),
        ("List the papers without an abstract", "abstract"),
    ],
)
def test_a_count_of_papers_without_a_field_is_read(question: str, missing: str) -> None:
    tally = read_tally(question, {"ICML"}, {2024})
    assert tally is not None and tally.missing == missing


@pytest.mark.parametrize(
    "question",
    [
        "How many orals study DP-SGD?",
        "How many papers are about diffusion models?",
        "How many orals use reinforcement learning?",
        "How many NeurIPS papers are there?",  # a venue the store lacks is something to look for
        "Which orals are there on privacy?",
        "How many authors does ViP have?",
        "Which orals are there?",  # a list of every paper, not a count of those lacking a field
        "Which orals without a title study privacy?",
    ],
)
def test_a_count_with_something_to_look_for_is_not_a_tally(question: str) -> None:
    assert read_tally(question, {"ICML"}, {2024}) is None


def record(status: str | None, title: str | None = "A title", abstract: str | None = "An abstract.") -> PaperRecord:
    return PaperRecord(title=title, authors=["Ada Lovelace"], abstract=abstract, venue="ICML", year=2024, status=status)


def test_a_status_the_store_lacks_is_counted_as_none_not_as_every_paper() -> None:
    orals = [record("Oral") for _ in range(3)]
    line = tally_line(orals, 3, Tally("posters"), {}, {"Oral"})
    assert "no posters" in line and "3 papers are Oral" in line


def test_the_count_says_what_the_papers_are() -> None:
    records = [record("Poster", abstract=None), record("Poster", abstract=None), record("Oral", title=None)]
    line = tally_line(records, 3, Tally("papers"), {}, {"Poster", "Oral"})
    assert line.startswith("There are 3 papers in the loaded listings.")
    assert "By status: Poster 2, Oral 1." in line
    assert "1 of them have no title" in line and "2 of them have no abstract" in line


def test_how_many_orals_is_answered_from_the_catalogue(pc: PaperChat) -> None:
    records = pc.searcher.records
    answer = pc.ask("How many orals are there?")
    assert f"There are {len(records)} orals" in answer.text
    assert NO_ANSWER not in answer.text
    assert answer.citations == []
    untitled = sum(1 for r in records if not r.title)
    assert f"{untitled} of them have no title" in answer.text


def test_papers_without_a_title_are_counted(pc: PaperChat) -> None:
    records = pc.searcher.records
    untitled = sum(1 for r in records if not r.title)
    assert pc.ask("How many papers have no title?").text == (
        f"{untitled} of the {len(records)} papers in the loaded listings have no title.")
    assert pc.ask("How many orals lack an abstract?").text.startswith(
        f"{sum(1 for r in records if not r.abstract)} of the {len(records)} orals")


def test_a_count_beside_a_topic_is_still_a_search(pc: PaperChat) -> None:
    answer = pc.ask("How many orals study DP-SGD?")
    assert answer.citations, answer.text
    assert answer.text.startswith(f"{len(answer.citations)} of {answer.searched:,} papers searched matched.")
    assert any(p.title and p.title.startswith("ViP") for p in answer.citations)


def test_a_count_uses_the_status_the_question_implies(merged_store) -> None:
    pc = PaperChat(data_dir=merged_store, llm="extractive")
    records = pc.searcher.records
    by_status = Counter(r.status for r in records)
    answer = pc.ask("How many orals are there?")
    assert answer.text.startswith(f"There are {by_status['Oral']:,} orals in the loaded listings, "
                                  f"of {len(records):,} papers in all.")  # fmt: skip
    assert answer.filters == {"status": "Oral"}
    everything = pc.ask("How many papers are there?").text
    assert "By status: " + ", ".join(f"{s} {n:,}" for s, n in by_status.most_common()) in everything


def test_a_count_spends_no_model_call(bundled_store) -> None:
    with running_stub() as stub:
        settings = Settings(data_dir=bundled_store, llm="openai", openai_api_key=FAKE_KEY,
                            llm_base_url=stub.base_url, llm_retries=0, local_model=bundled_store / "absent.gguf")  # fmt: skip
        answer = PaperChat(settings=settings).ask("How many papers are in the listings?")
        assert stub.requests == []
    assert answer.text.startswith(f"There are {answer.searched} papers in the loaded listings.")
    assert answer.citations == [] and answer.backend == "openai"


def test_search_json_carries_the_count(bundled_store, run_cli) -> None:
    out = run_cli("search", "How many orals are there?", "--data-dir", bundled_store, "--json", check=0)
    result = json.loads(out.stdout)
    assert result["papers"] == [] and result["tally"].startswith(f"There are {result['searched']} orals")
    topic = json.loads(run_cli("search", "Which orals study DP-SGD?", "--data-dir", bundled_store, "--json", check=0).stdout)
    assert topic["tally"] is None and topic["papers"]
