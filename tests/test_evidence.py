"""The evidence under each citation is one sentence of the paper's abstract, quoted as written.

The orals listing runs some abstracts' paragraphs together ("... like jailbreaks.In this work
we study ..."); evidence cut there would quote three sentences as one.
"""

from __future__ import annotations

import pytest

from app import PaperChat
from app.text import split_sentences

RUN_TOGETHER = (
    "We lack explanations for the mechanisms, which makes jailbreaks hard to explain.In this work "
    "we study DPO.Namely, we probe GPT2-medium, e.g.GPT-style models, as in Lee et al.(2024)."
)


def test_sentences_run_together_without_a_space_are_split_and_kept_verbatim() -> None:
    sentences = split_sentences(RUN_TOGETHER)

    assert sentences == [
        "We lack explanations for the mechanisms, which makes jailbreaks hard to explain.",
        "In this work we study DPO.",
        "Namely, we probe GPT2-medium, e.g.GPT-style models, as in Lee et al.(2024).",
    ]
    assert all(sentence in RUN_TOGETHER for sentence in sentences)


def test_abbreviations_initials_and_decimals_do_not_end_a_sentence() -> None:
    text = "We use Adam, e.g. as in Smith et al. Results rose 2.5 points, see Fig. 3 by J. Doe. Done."

    assert split_sentences(text) == [
        "We use Adam, e.g. as in Smith et al. Results rose 2.5 points, see Fig. 3 by J. Doe.",
        "Done.",
    ]


@pytest.fixture(scope="module")
def pc(bundled_store) -> PaperChat:
    return PaperChat(data_dir=bundled_store, llm="extractive")


def test_evidence_from_a_run_together_abstract_is_the_one_sentence_that_matches(pc: PaperChat) -> None:
    answer = pc.ask("Which orals study the mechanisms by which DPO reduces toxicity?")

    [cited] = [c for c in answer.citations if c.authors[:2] == ["Andrew Lee", "Xiaoyan Bai"]]
    assert cited.evidence == (
        "In this work we study a popular algorithm, direct preference optimization (DPO), "
        "and the mechanisms by which it reduces toxicity."
    )
    assert cited.evidence in (cited.abstract or "")
