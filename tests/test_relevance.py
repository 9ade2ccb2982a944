"""The relevance decision: how many ranked papers a list answer keeps.

Synthetic candidates, because the property under test is about score *shapes*: the same
pattern of "a few papers clearly above the crowd" must give the same answer whether the
embedder scores the question high (a question naming its topic) or low (a paraphrase).
"""

from __future__ import annotations

from app.question import QuestionIntent
from app.relevance import NOT_RELEVANT_ENOUGH, Candidate, RelevancePolicy, decide, standout
from app.search import promote_exact_match

LIST_QUESTION = QuestionIntent(text="Which orals study graph clustering?", wants_list=True)


def crowd(offset: float, stretch: float, coverage: float = 0.5) -> list[Candidate]:
    """Three papers well above 47 similar ones, at a given level and spread of similarity."""
    shape = [1.0, 0.9, 0.8] + [0.1 + 0.002 * i for i in range(47)][::-1]
    return [
        Candidate(paper_id=f"p{i}", fused=1.0 / (60 + i), dense=offset + stretch * s,
                  expanded=offset + stretch * s, keyword=0.0, keyword_share=0.0, coverage=coverage)
        for i, s in enumerate(shape)
    ]  # fmt: skip


def kept_ids(candidates: list[Candidate]) -> list[str]:
    kept, _ = decide(candidates, LIST_QUESTION, RelevancePolicy(), has_author_match=False)
    return [c.paper_id for c in kept]


def test_the_same_shape_of_scores_keeps_the_same_papers_at_any_level() -> None:
    named_topic = kept_ids(crowd(offset=0.15, stretch=0.5))  # best paper 0.65, crowd ~0.2
    paraphrase = kept_ids(crowd(offset=0.38, stretch=0.1))  # best paper 0.48, crowd ~0.39
    assert named_topic == paraphrase == ["p0", "p1", "p2"]


def test_a_paper_lacking_the_words_the_listings_know_is_not_kept_on_similarity_alone() -> None:
    candidates = crowd(offset=0.15, stretch=0.5)
    candidates[0].coverage = 1.0  # holds every word of the question
    candidates[1].coverage = 0.0  # similar in embedding space, but holds none of them
    assert kept_ids(candidates) == ["p0", "p2"]


def test_a_paper_holding_every_question_term_is_kept_even_when_the_embedding_misses_it() -> None:
    candidates = crowd(offset=0.15, stretch=0.5)
    candidates[0].coverage = 1.0
    candidates[30].coverage = 1.0  # "DP-SGD" in its abstract, far down the dense ranking
    assert "p30" in kept_ids(candidates)


def low_similarity_question(nearest_keyword_share: float) -> list[Candidate]:
    """Best similarity 0.38, under the bar, few of the question's words in any one paper;
    the nearest paper holds ``nearest_keyword_share`` of the best BM25 score."""
    candidates = crowd(offset=0.28, stretch=0.1, coverage=0.3)
    for i, candidate in enumerate(candidates):
        candidate.keyword_share = 0.2 + 0.001 * (i % 7)
    candidates[0].keyword_share = nearest_keyword_share
    candidates[5].keyword_share = 1.0  # the best paper by words is another one
    return candidates


def test_a_low_similarity_question_is_answered_when_both_legs_pick_the_same_paper() -> None:
    """A paraphrase in plain words: its nearest paper by meaning also shares its words."""
    assert kept_ids(low_similarity_question(nearest_keyword_share=0.95))[:1] == ["p0"]


def test_a_low_similarity_question_is_declined_when_the_legs_disagree() -> None:
    """A topic the listings lack: the nearest paper by meaning shares few of its words."""
    kept, debug = decide(low_similarity_question(nearest_keyword_share=0.2), LIST_QUESTION, RelevancePolicy(),
                         has_author_match=False)  # fmt: skip
    assert kept == [] and debug["reason"] == NOT_RELEVANT_ENOUGH


def test_standout_is_one_for_the_best_and_zero_for_the_median() -> None:
    shares = standout([0.9, 0.5, 0.4, 0.3, 0.2], pool=5)
    assert shares[0] == 1.0 and shares[2] == 0.0 and shares[4] < 0


def test_a_single_paper_question_goes_to_the_paper_holding_its_words() -> None:
    candidates = crowd(offset=0.15, stretch=0.5, coverage=0.3)
    candidates[3].coverage, candidates[3].keyword_share = 0.9, 1.0  # the only abstract with "90.0%" and "ViT-H"
    promote_exact_match(candidates)
    assert [c.paper_id for c in candidates[:2]] == ["p3", "p0"]


def test_a_fused_leader_holding_most_of_the_words_keeps_its_place() -> None:
    candidates = crowd(offset=0.15, stretch=0.5, coverage=0.7)
    candidates[3].coverage, candidates[3].keyword_share = 0.9, 1.0
    promote_exact_match(candidates)
    assert candidates[0].paper_id == "p0"


def test_plural_what_questions_want_lists_and_singular_ones_one_paper() -> None:
    """"What are the best papers on X?" asks for a list; "What is XRM?" for one paper."""
    from app.question import read_intent

    def listy(question: str) -> bool:
        return read_intent(question, set(), set(), set()).wants_list

    assert listy("What are the best papers on LLM reasoning from Google?")
    assert listy("What were the orals about diffusion?")
    assert not listy("What is XRM?")
    assert not listy("Explain the XRM paper")  # one named paper
    assert not listy("Summarize the paper on DP-SGD implementations")
    assert listy("Which papers build on the Adam paper?")
    assert not listy("Who wrote the oral that uses WordNet nouns to cluster images?")


def test_praise_words_are_not_topic_terms() -> None:
    """"the best papers on LLM reasoning": no paper is relevant for calling itself best."""
    from app.text import content_terms

    assert content_terms("the best recent papers on LLM reasoning") == content_terms("papers on LLM reasoning")


def test_a_count_in_the_question_is_read_and_cut_out_of_the_topic() -> None:
    from app.question import requested_count, without_requested_count

    assert requested_count("give me 3 papers on graph transformers") == 3
    assert requested_count("What are the top five orals about diffusion?") == 5
    assert requested_count("Which papers use 3D point clouds?") is None
    assert requested_count("How many orals are about diffusion?") is None
    assert without_requested_count("What are the top five orals about diffusion?") == "What are the orals about diffusion?"
