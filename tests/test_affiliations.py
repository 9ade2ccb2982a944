"""A question naming an institution ("Which papers from Google study RL?") is answered from
the authors' affiliations that paperlists gives, which no text search can see.

The end-to-end cases ingest ``fixtures/affiliations.json`` (eight papers in paperlists form,
with ``aff`` and ``aff_domain``) into a real store with the packaged embedder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from app import PaperChat
from app.affiliations import AffiliationIndex, domain_label, initials
from ingest.merge import combine
from ingest.parsers import paperlists, tabular
from ingest.records import PaperRecord

FIXTURE = Path(__file__).parent / "fixtures" / "affiliations.json"
GOOGLE_RL = {"Sparse Reward Shaping for Robot Manipulation", "Offline Reinforcement Learning with Conservative Critics"}
STANFORD = {"Scaling Vision Transformers on Satellite Images", "Reinforcement Learning from Human Feedback at Scale"}


def fixture_records() -> list[PaperRecord]:
    records = paperlists.parse(FIXTURE.read_text(encoding="utf-8"), FIXTURE).records
    for number, record in enumerate(records):
        record.id = f"p{number}"
    return records


@pytest.fixture(scope="module")
def index() -> AffiliationIndex:
    return AffiliationIndex(fixture_records())


def named_titles(index: AffiliationIndex, question: str) -> set[str]:
    by_id = {r.id: r.title for r in fixture_records()}
    return {by_id[pid] for match in index.find(question) for pid in match.paper_ids}


@pytest.fixture(scope="module")
def affiliation_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("affiliations")
    PaperChat(data_dir=data_dir).ingest([FIXTURE], venue="ICML", year=2024, progress=False)
    return data_dir


# -- parsing and merging -------------------------------------------------------------------


def test_paperlists_affiliations_are_kept_once_each_with_their_domains() -> None:
    offline = next(r for r in fixture_records() if r.title.startswith("Offline"))
    assert offline.affiliations == ["Google DeepMind"]
    assert offline.domains == ["google.com"]


def test_an_affiliation_of_the_wrong_type_is_reported_and_the_rest_still_parse(tmp_path: Path) -> None:
    entries = json.loads(FIXTURE.read_text(encoding="utf-8"))
    entries[2]["aff"] = 7
    path = tmp_path / "bad_aff.json"
    path.write_text(json.dumps(entries, indent=1), encoding="utf-8")
    result = paperlists.parse(path.read_text(encoding="utf-8"), path)
    assert len(result.records) == len(entries) - 1
    [problem] = result.problems
    assert "'aff'" in str(problem) and "bad_aff.json" in str(problem) and "entry 3" in str(problem)


def test_tables_take_affiliations_as_a_list_or_as_text(tmp_path: Path) -> None:
    jsonl = tmp_path / "papers.jsonl"
    jsonl.write_text(json.dumps({"title": "T", "authors": ["A B"], "affiliations": ["MIT", "MIT", "Meta"]}) + "\n")
    [row] = tabular.parse_jsonl(jsonl.read_text(), jsonl).records
    assert row.affiliations == ["MIT", "Meta"]
    csv_path = tmp_path / "papers.csv"
    csv_path.write_text("title,authors,aff,aff_domain\nT,A B,Tsinghua University; Peking University,TSINGHUA.edu.cn\n")
    [row] = tabular.parse_csv(csv_path.read_text(), csv_path).records
    assert row.affiliations == ["Tsinghua University", "Peking University"]
    assert row.domains == ["tsinghua.edu.cn"]


def test_merging_unites_affiliations_in_order() -> None:
    target = PaperRecord(title="T", affiliations=["MIT"], domains=["mit.edu"])
    combine(target, PaperRecord(title="T", affiliations=["Meta", "MIT"], domains=["meta.com"]))
    assert target.affiliations == ["MIT", "Meta"]
    assert target.domains == ["mit.edu", "meta.com"]


def test_a_record_without_affiliations_hashes_as_records_did_before_they_existed() -> None:
    """Stores written before affiliations were kept are not re-embedded on the next ingest."""
    stored = {"title": "T", "authors": ["A B"], "abstract": None, "venue": None, "year": None,
              "status": None, "links": {}, "sources": [], "id": "p_1"}
    assert PaperRecord.from_dict(stored).to_json() == json.dumps(stored, ensure_ascii=False, sort_keys=True)


# -- naming an institution -----------------------------------------------------------------


def test_a_name_fragment_names_every_institution_it_is_part_of(index: AffiliationIndex) -> None:
    google = named_titles(index, "Which papers from Google study reinforcement learning?")
    assert GOOGLE_RL | {"Scaling Vision Transformers on Satellite Images"} == google
    assert named_titles(index, "Which papers are from Google DeepMind?") == GOOGLE_RL


@pytest.mark.parametrize(
    ("question", "title"),
    [
        ("Which papers are from MIT?", "Diffusion Models for Protein Backbones"),  # initials
        ("Which papers are from SJTU?", "Federated Learning without Sharing Gradients"),  # web domain
        ("Which papers are from UC Berkeley?", "Federated Learning without Sharing Gradients"),
        ("papers from eth zurich", "Meta-Learning Step Sizes for Gradient Descent"),  # cued, lower case
    ],
)
def test_institutions_are_found_the_way_people_abbreviate_them(index: AffiliationIndex, question: str, title: str) -> None:
    assert named_titles(index, question) == {title}


def test_a_name_that_is_also_a_topic_word_needs_a_cue(index: AffiliationIndex) -> None:
    assert named_titles(index, "Which papers are from Meta?") == {"Language Model Agents that Browse the Web"}
    assert index.find("Which papers study Meta-Learning?") == []
    assert index.find("Which papers study meta-learning?") == []


def test_a_name_beside_another_or_before_a_verb_of_writing_is_cued(index: AffiliationIndex) -> None:
    """"Meta" is a topic word here: "Meta and Stanford", "did Meta publish" still name it."""
    assert [m.mention for m in index.find("Which papers did Meta and Stanford write together?")] == ["Meta", "Stanford"]
    assert [m.mention for m in index.find("Which papers did Meta publish?")] == ["Meta"]
    assert [m.mention for m in index.find("Which papers study Meta-Learning and Stanford?")] == ["Stanford"]


def test_capitals_of_a_pasted_title_do_not_name_an_institution(index: AffiliationIndex) -> None:
    assert index.find("Papers like Reinforcement Learning from Human Feedback at Scale") == []


def test_several_institutions_in_one_question_are_all_named(index: AffiliationIndex) -> None:
    mentions = [m.mention for m in index.find("Which papers come from Stanford or Meta?")]
    assert mentions == ["Stanford", "Meta"]


def test_helpers_read_names_and_domains() -> None:
    assert initials("Massachusetts Institute of Technology") == "MIT"
    assert initials("Google DeepMind") is None
    assert domain_label("cs.stanford.edu") == "stanford"
    assert domain_label("kaist.ac.kr") == "kaist"
    assert domain_label("gmail.com") is None


# -- end to end ----------------------------------------------------------------------------


def test_a_topic_question_naming_an_institution_searches_only_its_papers(affiliation_store: Path) -> None:
    pc = PaperChat(data_dir=affiliation_store)
    result = pc.search_result("Which papers from Google study reinforcement learning?")
    titles = {p.title for p in result.papers}
    assert GOOGLE_RL <= titles
    assert "Reinforcement Learning from Human Feedback at Scale" not in titles  # RL, but Stanford
    assert all(any("Google" in a for a in p.affiliations) for p in result.papers)
    assert any("Google DeepMind" in notice for notice in result.debug["notices"])


def test_asking_for_an_institutions_papers_lists_them_all_with_the_affiliation_as_evidence(
    affiliation_store: Path, run_cli
) -> None:
    done = run_cli("ask", "Which papers are from Stanford?", "--json", "--llm", "extractive",
                   "--data-dir", affiliation_store)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert {c["title"] for c in answer["citations"]} == STANFORD
    assert all(c["evidence"].startswith("Authors at Stanford University") for c in answer["citations"])
    assert all("Stanford University" in c["affiliations"] for c in answer["citations"])
    assert "Only papers with an author at Stanford University were considered" in answer["answer"]


@pytest.mark.parametrize(
    "question", ["Which papers come from Stanford?", "Which papers have authors at Stanford?",
                 "Which papers were written at Stanford?"],
)
def test_saying_how_papers_relate_to_an_institution_names_no_topic(affiliation_store: Path, question: str) -> None:
    """"come from", "authors at", "written at" say where the papers are from, not what about."""
    answer = PaperChat(data_dir=affiliation_store, llm="extractive").ask(question)
    assert {p.title for p in answer.citations} == STANFORD


def test_both_institutions_means_papers_with_authors_at_each(affiliation_store: Path) -> None:
    """"from both Google and Stanford" is their joint papers; "from Google or Stanford" any."""
    pc = PaperChat(data_dir=affiliation_store)

    both = pc.ask("Which papers are from both Google and Stanford?")
    either = pc.search("Which papers are from Google or Stanford?")
    together = pc.search("Which papers did Google and Stanford write together?")

    assert {p.title for p in both.citations} == {"Scaling Vision Transformers on Satellite Images"}
    assert [p.title for p in together] == ["Scaling Vision Transformers on Satellite Images"]
    assert "authors at Google" in both.text and "and at Stanford University" in both.text
    assert {p.title for p in either} >= STANFORD | GOOGLE_RL


def test_stats_count_the_papers_whose_institutions_are_named(affiliation_store: Path, run_cli) -> None:
    done = run_cli("stats", "--data-dir", affiliation_store)
    assert "institutions: named for 8" in done.stdout
    assert json.loads(run_cli("stats", "--json", "--data-dir", affiliation_store).stdout)["with_affiliations"] == 8


def test_the_orals_of_an_institution_match_the_listing(merged_store: Path, shared_dir: Path) -> None:
    """Against the 2,610 ICML 2024 papers: every oral with a Stanford affiliation or a
    stanford.edu address, and no other, read straight from the paperlists file."""
    listing = json.loads((shared_dir / "listings" / "paperlists_icml2024.json").read_text(encoding="utf-8"))

    def at_stanford(entry: dict) -> bool:
        names = [re.findall(r"\w+", a.lower()) for a in entry.get("aff", "").split(";")]
        domains = [d.strip().lower().split(".") for d in entry.get("aff_domain", "").split(";")]
        return any("stanford" in n for n in names) or any(d[-2:-1] == ["stanford"] for d in domains)

    expected = {e["title"] for e in listing if e["status"] == "Oral" and at_stanford(e)}
    found = {p.title for p in PaperChat(data_dir=merged_store).search("Which orals are from Stanford?")}
    assert len(expected) >= 5
    assert found == expected


def test_a_card_names_the_institutions_as_text() -> None:
    from app.papers import Paper
    from app.ui_render import source_card

    record = PaperRecord(title="T", authors=["A B"], affiliations=["MIT", "<b>Lab</b>"], id="p1")
    card = source_card(1, Paper.from_record(record))
    assert 'class="pc-affiliations">MIT; &lt;b&gt;Lab&lt;/b&gt;<' in card
    assert "pc-affiliations" not in source_card(1, Paper.from_record(PaperRecord(title="T", id="p2")))


def test_a_long_name_asked_in_full_is_found_even_when_its_place_is_a_topic_word() -> None:
    name = "University of Science and Technology of China"
    records = [
        PaperRecord(title="Graph Learning in China", abstract="Road networks of China.", affiliations=[name], id="a"),
        PaperRecord(title="Other", affiliations=["Peking University"], domains=["pku.edu.cn"], id="b"),
    ]
    index = AffiliationIndex(records)
    [match] = index.find(f"Which papers are from the {name}?")
    assert match.paper_ids == {"a"}
    [by_domain] = index.find("Which papers are from PKU?")
    assert by_domain.paper_ids == {"b"}
