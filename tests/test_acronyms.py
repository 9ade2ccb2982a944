"""A question finds a paper whether it says "RLHF" or "reinforcement learning from human feedback".

The end-to-end cases ingest ``fixtures/acronyms.jsonl`` (one abstract defines RLHF and two
titles use only one form of it; one defines GNN and another abstract says only the long form) into a real store with the packaged embedder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app import PaperChat
from app.acronyms import AcronymGlossary, acronym_key, definitions, long_form_before
from app.text import content_terms

FIXTURE = Path(__file__).parent / "fixtures" / "acronyms.jsonl"
#: Papers of the fixture that use only one form of RLHF.
ACRONYM_ONLY = "ODIN: Disentangled Reward Mitigates Hacking in RLHF"
LONG_FORM_ONLY = "Iterative Reinforcement Learning from Human Feedback for Web Agents"
#: The paper that defines GNN, and one whose abstract says only "graph neural networks".
GNN_DEFINED = "Expressive Power of Message Passing"
GNN_LONG_FORM_ONLY = "Molecule Property Prediction with 3D Geometry"


@pytest.fixture(scope="module")
def acronym_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("acronyms")
    PaperChat(data_dir=data_dir).ingest([FIXTURE], progress=False)
    return data_dir


def titles(pc: PaperChat, question: str) -> list[str | None]:
    return [paper.title for paper in pc.search(question)]


@pytest.mark.parametrize(
    ("acronym", "before", "long_form"),
    [
        ("RLHF", "models tuned with reinforcement learning from human feedback", "reinforcement learning from human feedback"),
        ("PPO", "we train with Proximal Policy Optimization", "Proximal Policy Optimization"),
        ("LoRA", "adapters such as Low-Rank Adaptation", "Low-Rank Adaptation"),
        ("DP-SGD", "noise added by Differentially Private Stochastic Gradient Descent", "Differentially Private Stochastic Gradient Descent"),
        ("GNN", "message passing. Graph neural networks", "Graph neural networks"),
    ],
)
def test_the_long_form_is_the_words_that_spell_the_acronym(acronym: str, before: str, long_form: str) -> None:
    assert long_form_before(acronym, before) == long_form


def test_words_that_do_not_spell_the_acronym_define_nothing() -> None:
    assert long_form_before("RLHF", "we align the assistant with people") is None
    assert list(definitions("The results (Table 2) and the baseline (ours) differ.")) == []


def test_a_plural_acronym_is_the_same_acronym() -> None:
    assert acronym_key("LLMs") == "LLM"
    assert acronym_key("GNNs") == "GNN"
    assert acronym_key("ours") is None  # one capital at most: an ordinary word


def test_an_acronym_with_two_meanings_indexes_no_paper_under_either() -> None:
    glossary = AcronymGlossary.learn([
        "We adapt the Segment Anything Model (SAM) to scans.",
        "Sharpness-aware minimization (SAM) seeks flat minima.",
    ])  # fmt: skip
    text = "Why SAM works"
    assert "SAM" not in glossary.meaning
    assert glossary.extra_terms(text, content_terms(text)) == []


def test_the_acronym_is_matched_by_case_so_clipping_is_not_clip() -> None:
    glossary = AcronymGlossary.learn(["Contrastive Language-Image Pre-training (CLIP) learns embeddings."])
    clipping = "Clipping the gradient norm speeds up training."
    assert glossary.extra_terms(clipping, content_terms(clipping)) == []
    model = "Scaling CLIP to ten billion pairs"
    assert set(content_terms("contrastive language image pre-training")) <= set(
        glossary.extra_terms(model, content_terms(model))
    )


def test_a_paper_saying_the_long_form_is_indexed_under_the_acronym() -> None:
    glossary = AcronymGlossary.learn(["Graph neural networks (GNNs) predict properties."])
    text = "Oversmoothing in deep graph neural networks"
    assert glossary.extra_terms(text, content_terms(text)) == ["gnn"]


def test_the_long_form_question_finds_the_title_that_only_says_the_acronym(acronym_store: Path) -> None:
    pc = PaperChat(data_dir=acronym_store)
    found = titles(pc, "Which papers study reinforcement learning from human feedback?")
    assert ACRONYM_ONLY in found and LONG_FORM_ONLY in found


def test_the_acronym_question_finds_the_title_that_only_says_the_long_form(acronym_store: Path) -> None:
    pc = PaperChat(data_dir=acronym_store)
    found = titles(pc, "Which papers use RLHF?")
    assert ACRONYM_ONLY in found and LONG_FORM_ONLY in found


def test_both_phrasings_give_the_same_papers(acronym_store: Path) -> None:
    pc = PaperChat(data_dir=acronym_store)
    assert set(titles(pc, "Which papers are about GNNs?")) == set(
        titles(pc, "Which papers are about graph neural networks?")
    ) == {GNN_DEFINED, GNN_LONG_FORM_ONLY, "Oversmoothing in Deep GNNs"}


def test_evidence_for_an_acronym_question_is_the_sentence_with_the_long_form(acronym_store: Path) -> None:
    pc = PaperChat(data_dir=acronym_store, llm="extractive")
    answer = pc.ask("Which papers use GNNs?")
    evidence = {paper.title: paper.evidence for paper in answer.citations}
    assert evidence[GNN_LONG_FORM_ONLY] == (
        "We run graph neural networks over atom and bond graphs and add 3D geometry to message passing."
    )


def test_an_acronym_plural_is_one_keyword_with_the_singular() -> None:
    assert content_terms("LLMs and GNNs") == content_terms("LLM and GNN") == ["llm", "gnn"]
    assert content_terms("biases") == ["bias"]  # ordinary plurals are the stemmer's


# -- common acronyms the listings never define ---------------------------------------------


def test_a_common_acronym_keeps_its_meaning_unless_the_listings_outvote_it() -> None:
    common = {"RL": "reinforcement learning"}
    reinforcement = tuple(content_terms("reinforcement learning"))
    assert AcronymGlossary.learn([], common=common).meaning["RL"] == reinforcement
    once = ["We use representation learning (RL) for maps."]
    assert AcronymGlossary.learn(once, common=common).meaning["RL"] == reinforcement  # 2 votes to 1
    twice = once + ["Representation learning (RL) of graphs."]
    assert "RL" not in AcronymGlossary.learn(twice, common=common).meaning  # 2 to 2: ambiguous
    assert "RL" not in AcronymGlossary.learn([]).meaning  # nothing defines it without the list


def test_an_undefined_common_acronym_finds_the_papers_that_spell_it_out(tmp_path: Path) -> None:
    """No abstract defines "MoE" (as in a listing of titles only), yet both forms answer alike."""
    listing = tmp_path / "moe.jsonl"
    papers = [
        {"title": "Scaling Laws for Fine-Grained Mixture of Experts", "authors": ["Ana Ruiz"]},
        {"title": "Routing Tokens in Sparse Mixture-of-Experts Language Models", "authors": ["Bo Chen"]},
        {"title": "MoE-Lens: Auditing Expert Routing", "authors": ["Chloe Martin"]},
        {"title": "Faster MoE Training on Commodity GPUs", "authors": ["Dev Patel"]},
        {"title": "Graph Transformers for Molecules", "authors": ["Eva Lind"]},
        {"title": "Bandits with Delayed Feedback", "authors": ["Femi Ade"]},
    ]
    listing.write_text("\n".join(json.dumps(p) for p in papers) + "\n")
    pc = PaperChat(data_dir=tmp_path / "store")
    pc.ingest([listing], progress=False)
    experts = {p["title"] for p in papers[:4]}
    assert set(titles(pc, "Which papers use MoE?")) == experts
    assert set(titles(pc, "Which papers are about mixture of experts?")) == experts
