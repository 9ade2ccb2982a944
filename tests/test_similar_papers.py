"""'Papers like ViP': the named paper's own vector and words are the query, and it is left out.

Searched as text, "Which orals are similar to ViP?" finds ViP itself and then whatever the
words "similar" and "ViP" bring up; the user wants ViP's neighbours.
"""

from __future__ import annotations

import pytest

from app import PaperChat
from app.similar import TitleIndex
from ingest.records import PaperRecord

VIP_TITLE = "ViP: A Differentially Private Foundation Model for Computer Vision"


def record(paper_id: str, title: str | None) -> PaperRecord:
    return PaperRecord(id=paper_id, title=title, authors=["A B"], abstract="An abstract.")


@pytest.fixture(scope="module")
def pc(bundled_store) -> PaperChat:
    return PaperChat(data_dir=bundled_store, llm="extractive")


def test_papers_like_a_named_paper_are_its_neighbours_without_it(pc):
    [vip] = [r for r in pc.searcher.records if r.title == VIP_TITLE]

    result = pc.search_result("Which orals are similar to ViP?")

    assert result.similar_to is not None and result.similar_to.id == vip.id
    assert result.papers and vip.id not in {p.id for p in result.papers}
    private = [p for p in result.papers if "privacy" in (p.abstract or "").lower() or "private" in (p.abstract or "").lower()]
    assert len(private) >= len(result.papers) / 2, [p.citation for p in result.papers]
    assert any("Papers like “ViP: A Differentially Private" in n for n in result.notices)
    as_text = pc.search_result("Which orals are about ViP?")  # the old reading: ViP itself first
    assert as_text.papers[0].id == vip.id


def test_the_full_title_in_quotes_names_the_paper_too(pc):
    result = pc.search_result(f"more papers like “{VIP_TITLE}”")
    assert result.similar_to is not None and result.similar_to.title == VIP_TITLE


def test_like_without_a_paper_name_is_an_ordinary_question(pc):
    result = pc.search_result("I would like orals on diffusion models")
    assert result.similar_to is None and result.papers


def test_a_reference_must_name_exactly_one_paper() -> None:
    index = TitleIndex([
        record("a", "ViP: A Differentially Private Foundation Model for Computer Vision"),
        record("b", "Genie: Generative Interactive Environments"),
        record("c", "Genie: Another Paper With The Same Short Name"),
        record("d", "Learning to Model the World With Language"),
        record("e", None),
    ])

    assert index.find("papers similar to ViP").paper_id == "a"
    assert index.find("Papers like the paper 'Learning to Model the World'?").paper_id == "d"  # first words
    assert index.find("papers like Genie") is None  # two papers go by that name
    assert index.find("papers like Learning") is None  # too few words to name a title
    assert index.find("Which papers study ViP?") is None  # no "like"


def test_search_json_names_the_reference_paper(bundled_store, run_cli):
    import json

    out = run_cli("search", "Which orals are similar to ViP?", "--json", "--data-dir", bundled_store)
    data = json.loads(out.stdout)

    assert data["similar_to"]["title"] == VIP_TITLE
    assert VIP_TITLE not in [p["title"] for p in data["papers"]]
