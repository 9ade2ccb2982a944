"""Conversations: follow-ups resolve "those" and "the second one", filters carry over.

Rule-level tests use hand-made answers; the three-turn conversations run on a real store
with the extractive backend and with the openai backend against the stub server.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.chat import clean_rewrite, plan_turn
from app.cli import main
from app.papers import NO_ANSWER, Answer, Paper
from app.paperchat import PaperChat
from app.settings import Settings
from openai_stub import FAKE_KEY, Reply, StubServer, is_condense, obedient, running_stub

REPO = Path(__file__).resolve().parent.parent
LISTING = REPO / "data" / "listings" / "000_8bc7cccfbb1f2936.txt"  # 25 ICML 2024 orals with titles
FACETS: dict[str, list[Any]] = {"venue": ["ICML", "NeurIPS"], "year": [2023, 2024], "status": ["Oral", "Poster"]}

CONVERSATION = [
    "Which orals are about large language models?",
    "Which of those are about agents?",
    "Who wrote the second one?",
]


@pytest.fixture
def openai_stub() -> Iterator[StubServer]:
    """The chat-completions stub server for one test (see tests/openai_stub.py)."""
    with running_stub() as server:
        yield server


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("chatstore")
    PaperChat(data_dir=directory, llm="extractive").ingest([str(LISTING)], venue="ICML", year=2024, status="Oral", progress=False)
    return directory


def stub_chat(data_dir: Path, stub: StubServer) -> PaperChat:
    return PaperChat(
        settings=Settings(
            data_dir=data_dir,
            llm="openai",
            openai_api_key=FAKE_KEY,
            llm_base_url=stub.base_url,
            llm_timeout=2.0,
            llm_retries=0,
            local_model=data_dir / "absent.gguf",
        )
    )


def converse(pc: PaperChat, messages: list[str]) -> list[tuple[str, Answer]]:
    history: list[tuple[str, Answer]] = []
    for message in messages:
        history.append((message, pc.chat(message, history)))
    return history


def titles(answer: Answer) -> list[str]:
    return [p.citation for p in answer.citations]


# -- rules, on hand-made answers ---------------------------------------------------------------


def paper(n: int) -> Paper:
    return Paper(id=f"p{n}", title=f"Paper number {n}", authors=[f"Author {n}"], abstract="x", venue="ICML", year=2024, status="Oral", url=None)


def answer(*numbers: int, source_numbers: list[int] | None = None, filters: dict[str, Any] | None = None) -> Answer:
    debug = {"source_numbers": source_numbers} if source_numbers else {}
    return Answer(text="...", citations=[paper(n) for n in numbers], backend="extractive", filters=filters or {}, debug=debug)


def test_the_second_one_is_the_second_paper_listed() -> None:
    plan = plan_turn("Who wrote the second one?", [("q", answer(1, 2, 3))], FACETS)
    assert plan.reference == "ordinal" and [p.id for p in plan.scope or []] == ["p2"]
    assert plan.standalone == "Who wrote “Paper number 2”?"
    assert plan_turn("and the last paper?", [("q", answer(1, 2, 3))], FACETS).scope == [paper(3)]


def test_an_ordinal_counts_in_the_latest_list_long_enough() -> None:
    history = [("q1", answer(1, 2, 3)), ("q2", answer(4))]
    plan = plan_turn("What does the second one propose?", history, FACETS)
    assert [p.id for p in plan.scope or []] == ["p2"]
    missing = plan_turn("Who wrote the ninth one?", history, FACETS)
    assert missing.scope is None and "Could not tell" in missing.notices[0]


def test_bracket_numbers_follow_the_numbers_the_answer_showed() -> None:
    history = [("q", answer(1, 2, 3, source_numbers=[2, 5, 7]))]
    assert [p.id for p in plan_turn("Tell me more about [5]", history, FACETS).scope or []] == ["p2"]


def test_those_scopes_to_the_latest_answer_with_several_papers() -> None:
    history = [("Which orals study agents?", answer(1, 2, 3)), ("q2", answer(4))]
    plan = plan_turn("Which of those use transformers?", history, FACETS)
    assert plan.reference == "plural" and [p.id for p in plan.scope or []] == ["p1", "p2", "p3"]
    assert "“Paper number 1”" in plan.standalone and "use transformers" in plan.standalone


def test_it_means_the_previous_answer_only_when_it_had_one_paper() -> None:
    assert plan_turn("Who wrote it?", [("q", answer(4))], FACETS).scope == [paper(4)]
    assert plan_turn("Who wrote it?", [("q", answer(4, 5))], FACETS).scope is None


def test_filters_carry_over_unless_the_message_changes_them() -> None:
    history = [("q", answer(1, filters={"venue": "ICML", "status": "Oral"}))]
    assert plan_turn("What about diffusion?", history, FACETS).filters == {"venue": "ICML", "status": "Oral"}
    assert plan_turn("And the posters?", history, FACETS).filters == {"venue": "ICML", "status": "Poster"}
    assert plan_turn("Anything else?", history, FACETS, where={"year": 2023}).filters == {"year": 2023}


def test_a_model_rewrite_must_look_like_a_question() -> None:
    assert clean_rewrite("Standalone question: Who wrote GaLore?\nExtra") == "Who wrote GaLore?"
    assert clean_rewrite("") is None
    assert clean_rewrite(NO_ANSWER) is None
    assert clean_rewrite("x" * 500) is None
    assert clean_rewrite("1. 2.\n2. 3.") is None  # what the 135M model wrote once: no words at all


# -- three-turn conversations on a real store ------------------------------------------------------


def check_conversation(history: list[tuple[str, Answer]]) -> None:
    first, second, third = (a for _, a in history)
    assert len(first.citations) >= 4
    assert second.citations and set(titles(second)) <= set(titles(first))
    assert any("GPTSwarm" in t for t in titles(second)) and any("CompeteAI" in t for t in titles(second))
    assert second.debug["reference"] == "plural" and second.searched == len(first.citations)
    assert len(second.citations) >= 2
    assert [p.id for p in third.citations] == [second.citations[1].id]
    assert third.debug["reference"] == "ordinal"
    assert second.citations[1].authors[0] in third.text


def test_three_turns_with_the_extractive_backend(store: Path) -> None:
    history = converse(PaperChat(data_dir=store, llm="extractive"), CONVERSATION)
    check_conversation(history)
    assert all(a.backend == "extractive" for _, a in history)
    who = history[2][1].citations[0]  # "Who wrote the second one?": its whole author list
    assert who.evidence == f"{len(who.authors)} authors: " + ", ".join(who.authors)


def test_three_turns_with_the_stub_openai_backend(store: Path, openai_stub: StubServer) -> None:
    rewrites = {
        "Which of those are about agents?": "Which of the large language model orals are about agents?",
        "Who wrote the second one?": "Who wrote CompeteAI?",
    }

    def model(request: dict[str, Any]) -> Reply:
        if is_condense(request):
            follow_up = request["messages"][-1]["content"].rsplit("Follow-up: ", 1)[1].split("\n")[0]
            return Reply(rewrites[follow_up.strip()])
        return obedient(request)

    openai_stub.script = model
    history = converse(stub_chat(store, openai_stub), CONVERSATION)
    check_conversation(history)
    assert all(a.backend == "openai" and not a.notices for _, a in history)
    extractive = converse(PaperChat(data_dir=store, llm="extractive"), CONVERSATION)
    assert [titles(a) for _, a in history] == [titles(a) for _, a in extractive]

    condense = [r for r in openai_stub.chat_requests if is_condense(r)]
    assert len(condense) == 2  # the first turn needs no rewrite
    assert "2. " + history[1][1].citations[1].citation in condense[1]["messages"][0]["content"]
    last_prompt = openai_stub.chat_requests[-1]["messages"][1]["content"]
    assert last_prompt.startswith("Question: Who wrote CompeteAI?")
    assert last_prompt.count("<source id=") == 1
    assert history[2][1].debug["rewritten_by"] == "openai"


def test_a_failed_rewrite_keeps_the_rule_wording_and_says_so(store: Path, openai_stub: StubServer) -> None:
    pc = stub_chat(store, openai_stub)
    history = converse(pc, CONVERSATION[:1])
    openai_stub.script = lambda request: Reply(status=500) if is_condense(request) else obedient(request)
    reply = pc.chat("Who wrote the second one?", history)
    assert reply.backend == "openai"
    assert [p.id for p in reply.citations] == [history[0][1].citations[1].id]
    assert reply.debug["rewritten_by"] == "rules" and "“" in reply.debug["standalone"]
    assert any("could not rewrite" in n for n in reply.notices)


def rewriting(rewrites: dict[str, str]) -> Any:
    """A stub model that rewrites the scripted follow-ups and answers like :func:`obedient`."""

    def model(request: dict[str, Any]) -> Reply:
        if is_condense(request):
            follow_up = request["messages"][-1]["content"].rsplit("Follow-up: ", 1)[1].split("\n")[0].strip()
            return Reply(rewrites.get(follow_up, follow_up))
        return obedient(request)

    return model


VAGUE = "Anything else on that topic?"  # no reference the rules can resolve; its own words match nothing


def test_a_follow_up_without_a_reference_is_searched_as_the_model_rewrote_it(store: Path, openai_stub: StubServer) -> None:
    rewrite = "Which orals study efficient fine-tuning of large language models?"
    openai_stub.script = rewriting({VAGUE: rewrite})
    pc = stub_chat(store, openai_stub)
    history = converse(pc, ["Which orals study memory-efficient training?"])
    reply = pc.chat(VAGUE, history)
    assert PaperChat(data_dir=store, llm="extractive").search(VAGUE) == []  # the rules alone: nothing
    assert reply.backend == "openai" and not reply.notices
    assert reply.debug["searched_by"] == "openai" and reply.debug["search_text"] == rewrite
    assert [p.id for p in reply.citations] == [p.id for p in pc.search(rewrite)] != []
    assert openai_stub.chat_requests[-1]["messages"][1]["content"].startswith(f"Question: {rewrite}")


def test_a_rewrite_that_retrieves_nothing_leaves_the_message_as_asked(store: Path, openai_stub: StubServer) -> None:
    openai_stub.script = rewriting({"Which orals study pruning?": "Which orals study quantum chemistry?"})
    pc = stub_chat(store, openai_stub)
    history = converse(pc, ["Which orals study memory-efficient training?"])
    reply = pc.chat("Which orals study pruning?", history)
    assert reply.debug["searched_by"] == "rules" and reply.debug["standalone"] == "Which orals study pruning?"
    assert [p.id for p in reply.citations] == [p.id for p in pc.search("Which orals study pruning?")] != []


def test_the_model_is_not_asked_to_guess_a_paper_the_rules_could_not_find(store: Path, openai_stub: StubServer) -> None:
    openai_stub.script = rewriting({"Who wrote the ninth one?": "Who wrote GaLore?"})
    pc = stub_chat(store, openai_stub)
    history = converse(pc, ["Which orals study memory-efficient training?"])
    reply = pc.chat("Who wrote the ninth one?", history)
    assert not any(is_condense(r) for r in openai_stub.chat_requests)
    assert any("Could not tell" in n for n in reply.notices) and reply.debug["searched_by"] == "rules"


def test_the_llama_index_chat_engine_keeps_its_own_history(store: Path) -> None:
    engine = PaperChat(data_dir=store, llm="extractive").chat_engine()
    first = engine.chat(CONVERSATION[0])
    assert len(first.source_nodes) >= 4
    streamed = engine.stream_chat(CONVERSATION[1])
    text = "".join(streamed.response_gen)
    assert text == engine.last_answer.text
    assert [n.node.metadata["paper_id"] for n in streamed.source_nodes] == [p.id for p in engine.last_answer.citations]
    assert len(engine.chat_history) == 4
    engine.reset()
    assert engine.chat_history == []


def test_the_chat_command_streams_and_supports_sources_and_reset(
    store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = iter([CONVERSATION[0], "/sources", "Who wrote the second one?", "/reset", "/sources"])

    def fake_input(prompt: str = "") -> str:
        try:
            return next(lines)
        except StopIteration:
            raise EOFError from None

    monkeypatch.setattr(builtins, "input", fake_input)
    assert main(["chat", "--data-dir", str(store), "--llm", "extractive"]) == 0
    out = capsys.readouterr().out
    assert "papers searched matched" in out
    assert "Evidence:" in out and "(read as: Who wrote “" in out
    assert "(conversation reset)" in out and out.rstrip().endswith("(no papers cited yet)")


def test_more_like_the_second_one_searches_for_its_neighbours(store: Path) -> None:
    pc = PaperChat(data_dir=store, llm="extractive")
    history = converse(pc, ["Which orals are about large language models?"])
    second = history[0][1].citations[1]
    assert second.title, "the 25-oral listing titles every paper"

    reply = pc.chat("Find more papers like the second one", history)

    assert reply.citations and second.id not in {p.id for p in reply.citations}
    assert any(f"Papers like “{second.title}”" in n for n in reply.notices), reply.notices
