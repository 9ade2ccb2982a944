"""Questions that name authors: alone they are the answer, beside a topic they narrow it.

"Which orals did Tim Rocktäschel co-author?" is answered by his papers; "Which orals by Tim
Rocktäschel are about open-endedness?" by those of his papers that are about it, or by none
(with his papers shown as the closest) when none is. Each citation says where the named
author sits in its author list, which the citation's "et al." would otherwise hide.
"""

from __future__ import annotations

import re

import pytest

from app import PaperChat
from app.authors import names_a_topic, papers_of, without_names
from app.papers import NO_ANSWER
from ingest.records import normalize_text

ROCKTASCHEL = "Tim Rocktäschel"
PARKER_HOLDER = "Jack Parker-Holder"


@pytest.fixture(scope="module")
def pc(bundled_store) -> PaperChat:
    return PaperChat(data_dir=bundled_store, llm="extractive")


def papers_by(pc: PaperChat, name: str) -> set[str]:
    wanted = normalize_text(name)
    return {r.id for r in pc.searcher.records if any(normalize_text(a) == wanted for a in r.authors)}


def test_each_citation_says_where_the_named_author_is_in_its_author_list(pc):
    answer = pc.ask("Which orals did Jurgen Schmidhuber co-author?")  # typed without the umlaut

    assert {p.id for p in answer.citations} == papers_by(pc, "Jürgen Schmidhuber")
    for paper in answer.citations:
        position = paper.authors.index("Jürgen Schmidhuber") + 1
        assert paper.evidence == f"Authors include Jürgen Schmidhuber (author {position} of {len(paper.authors)})"
        assert paper.evidence in answer.text


def test_an_author_and_a_topic_keep_only_that_authors_papers_on_the_topic(pc):
    his = papers_by(pc, ROCKTASCHEL)
    on_topic = {i for i in his if "open-endedness" in (pc.searcher.by_id[i].abstract or "").lower()}
    assert len(his) >= 3 and 1 <= len(on_topic) < len(his), "fixture changed?"

    answer = pc.ask(f"Which orals by {ROCKTASCHEL} are about open-endedness?")

    assert {p.id for p in answer.citations} == on_topic
    assert f"Only papers by {ROCKTASCHEL} were considered." in answer.text
    assert all("open-endedness" in (p.evidence or "").lower() for p in answer.citations)


def test_an_author_and_a_topic_none_of_their_papers_has_declines_and_shows_their_papers(pc):
    his = papers_by(pc, ROCKTASCHEL)

    answer = pc.ask(f"Which orals by {ROCKTASCHEL} study protein folding?")
    result = pc.search_result(f"Which orals by {ROCKTASCHEL} study protein folding?")

    assert answer.citations == []
    assert answer.text.startswith(NO_ANSWER)
    assert answer.nearest and {p.id for p in answer.nearest} <= his
    assert any(f"papers by {ROCKTASCHEL}: {len(his)} papers" in n for n in result.notices)


@pytest.mark.parametrize(
    "question",
    [
        f"Which ICML 2024 orals did {ROCKTASCHEL} co-author?",
        f"What has {ROCKTASCHEL} published recently?",
        f"{ROCKTASCHEL}'s orals",
        f"Which posters has {ROCKTASCHEL} co-written?",
        f"List the papers {ROCKTASCHEL} is an author of",
    ],
)
def test_words_about_authorship_are_not_a_topic(pc, question):
    assert {p.id for p in pc.search(question)} == papers_by(pc, ROCKTASCHEL)


def test_joint_work_is_the_papers_the_named_authors_share(pc):
    his, hers = papers_by(pc, ROCKTASCHEL), papers_by(pc, PARKER_HOLDER)
    assert his & hers and his != hers, "fixture changed?"

    joint = pc.search(f"Which orals did {ROCKTASCHEL} co-author with {PARKER_HOLDER}?")
    either = pc.search(f"Which orals did {ROCKTASCHEL} or {PARKER_HOLDER} co-author?")

    assert {p.id for p in joint} == his & hers
    assert {p.id for p in either} == his | hers


def test_names_are_cut_out_of_the_question_before_looking_for_a_topic(pc):
    question = f"Which orals by {ROCKTASCHEL} and {PARKER_HOLDER} are about world models?"
    named = pc.searcher.authors.find(question)

    rest = without_names(question, named)

    assert [m.name for m in named] == [ROCKTASCHEL, PARKER_HOLDER]
    assert not re.search(r"Rockt|Parker|Holder", rest) and "world models" in rest
    assert names_a_topic(rest)
    authorship_only = f"Which orals has {ROCKTASCHEL} co-written?"
    assert not names_a_topic(without_names(authorship_only, pc.searcher.authors.find(authorship_only)))
    assert papers_of(named, question) == papers_by(pc, ROCKTASCHEL) | papers_by(pc, PARKER_HOLDER)


def test_a_topic_among_joint_papers_says_whose_shared_papers_were_searched(pc):
    shared = papers_by(pc, ROCKTASCHEL) & papers_by(pc, PARKER_HOLDER)

    result = pc.search_result(f"Which orals by {ROCKTASCHEL} together with {PARKER_HOLDER} are about world models?")

    assert {p.id for p in result.papers} <= shared
    assert any(f"papers by {ROCKTASCHEL} and {PARKER_HOLDER}: {len(shared)} papers" in n for n in result.notices), result.notices


@pytest.mark.parametrize(
    "question",
    [
        "Who wrote ViP: A Differentially Private Foundation Model for Computer Vision?",
        "Who are the authors of ViP?",
        "How many authors does ViP have?",
    ],
)
def test_who_wrote_a_paper_is_answered_by_that_paper_and_its_whole_author_list(pc, question):
    vip = next(r for r in pc.searcher.records if (r.title or "").startswith("ViP:"))

    answer = pc.ask(question)

    assert [p.id for p in answer.citations] == [vip.id]  # one paper, not its look-alikes
    assert answer.citations[0].evidence == f"{len(vip.authors)} authors: " + ", ".join(vip.authors)


def test_who_wrote_papers_on_a_topic_lists_them_with_their_authors(pc):
    topic = pc.ask("Which orals are about differential privacy?")
    answer = pc.ask("Who wrote the orals about differential privacy?")

    assert len(answer.citations) > 1
    assert {p.id for p in answer.citations} == {p.id for p in topic.citations}
    for paper in answer.citations:
        names = ", ".join(paper.authors)
        assert paper.evidence in (f"{len(paper.authors)} authors: {names}", f"Sole author: {names}")


def test_as_last_author_keeps_only_the_papers_where_the_name_is_last(pc):
    theirs = [r for r in pc.searcher.records if ROCKTASCHEL in r.authors]
    last = {r.id for r in theirs if r.authors[-1] == ROCKTASCHEL}
    assert last and len(last) < len(theirs)  # the role has something to rule out

    answer = pc.ask(f"Which orals have {ROCKTASCHEL} as last author?")

    assert {p.id for p in answer.citations} == last
    assert f"Only papers with {ROCKTASCHEL} as last author." in answer.notices


def test_a_role_nobody_holds_is_declined_not_answered_from_the_text(pc):
    assert not any(r.authors and r.authors[0] == ROCKTASCHEL for r in pc.searcher.records)

    answer = pc.ask(f"Which orals is {ROCKTASCHEL} the first author of?")

    assert answer.citations == []
    assert answer.text.startswith(NO_ANSWER)


def test_an_author_with_no_papers_among_those_searched_is_told_so(merged_store):
    pc = PaperChat(data_dir=merged_store, llm="extractive")
    name = "Yoshua Bengio"
    theirs = papers_by(pc, name)
    assert theirs and not any(pc.searcher.by_id[pid].status == "Oral" for pid in theirs)

    result = pc.searcher.search(f"Which orals did {name} co-author?")

    assert result.papers == []  # not orals that happen to match the words of the question
    assert f"Papers by {name} in the listings: {len(theirs)} papers, none among the {result.searched} searched." in result.notices


def test_a_person_no_author_is_named_after_is_reported(pc):
    """"Which orals did Geoffrey Hinton co-author?" asked of orals he is not on: the answer says
    no author has that name, instead of only that no paper answers."""
    answer = pc.ask("Which orals did Geoffrey Hinton co-author?")
    assert answer.citations == []
    assert "No author in the loaded listings is named “Geoffrey Hinton”" in " ".join(answer.notices)


def test_a_person_no_author_is_named_after_gets_no_papers_of_namesakes(pc):
    """"Which orals did Lynn Smith write?": the listings have a Lynn (Chua) and a Smith
    (Genevieve), but no Lynn Smith, so the answer cites nobody's papers and says why."""
    index = pc.searcher.reader.authors
    assert index.find("papers by Smith") and index.find("papers by Lynn Chua")  # both names exist
    answer = pc.ask("Which orals did Lynn Smith write?")
    assert answer.citations == []
    assert "No author in the loaded listings is named “Lynn Smith”" in " ".join(answer.notices)


@pytest.mark.parametrize(
    "question",
    ["Which orals did Tim Rocktäschel co-author?", "Which orals are about Gaussian Processes by Bayesian Methods?"],
)
def test_a_known_author_or_topic_words_are_not_reported_as_unknown_people(pc, question: str):
    assert not [n for n in pc.ask(question).notices if n.startswith("No author in the loaded listings")]
