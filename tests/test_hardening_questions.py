"""Questions and filters nobody should send, sent through every door: the Python API, the CLI
(``paperchat ask`` / ``search``) and the page's handler.

Each bad question gets an answer (or a search result) and, where the question itself is the
problem, a notice that says how to ask instead; nothing raises, nothing prints a traceback.
A 100 KB question is cut before it reaches a model, and the cut is announced. Filters are
validated before anything reaches Chroma: operator values (``{"$ne": ...}``), operator keys
(``$or``), over-long values and a year that is not a year are refused with a one-line error,
and every ``where`` Chroma does receive is a plain ``{field: {"$eq": value}}`` on a known field.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.question import (
    EMPTY_NOTICE,
    MAX_QUESTION_CHARS,
    NO_WORDS_NOTICE,
    NOT_ENGLISH_NOTICE,
    OTHER_LANGUAGE_NOTICE,
    prepare_question,
)
from servers import ROOT, clean_env

TAIL_MARK = "ZZTAILMARKZZ"
#: 100 KB that reads like a question pasted together with a page of text after it.
LONG = ("Which orals study DP-SGD? " + "Please consider privacy accounting and clipping. " * 2100)[: 100_000 - len(TAIL_MARK) - 1] + " " + TAIL_MARK
CUT = "characters long; only its first"

#: name -> (question, notice that must be given or None, whether the CLI can send it)
QUESTIONS: dict[str, tuple[str, str | None, bool]] = {
    "empty": ("", EMPTY_NOTICE, True),
    "whitespace only": ("  \n\t  ", EMPTY_NOTICE, True),
    "100 KB": (LONG, CUT, True),
    "100 KB with no space": ("x" * 100_000, CUT, True),
    "Chinese": ("哪些口头报告研究差分隐私？", NOT_ENGLISH_NOTICE, True),
    "Chinese with an English term": ("哪些口头报告研究 DP-SGD？", None, True),
    "German": ("Welche Vorträge behandeln differentielle Privatsphäre und DP-SGD?", OTHER_LANGUAGE_NOTICE, True),
    "French": ("Quels exposés traitent de la confidentialité différentielle ?", OTHER_LANGUAGE_NOTICE, True),
    "emoji only": ("🤖🔥🚀🧠", NO_WORDS_NOTICE, True),
    "punctuation only": ("?!...;;--//**", NO_WORDS_NOTICE, True),
    "control characters and NUL": ("Which orals study DP-SGD?\x00\x1b[31m\x7f", None, False),
    "zero-width and right-to-left marks": ("Which orals study DP\u200b-SGD?\u202e\u200f", None, True),
    "HTML and script tags": ("<script>alert(1)</script> Which orals study <b>DP-SGD</b>?", None, True),
    "a Chroma where clause as text": ('{"$or": [{"status": {"$ne": "Oral"}}]} DP-SGD', None, True),
}
NAMES = list(QUESTIONS)
#: Cases whose question is intact around the noise, so the DP-SGD papers must still be cited.
#: (A German question with "DP-SGD" in it is declined: too few of its words match.)
STILL_FINDS = {"100 KB", "Chinese with an English term", "control characters and NUL",
               "zero-width and right-to-left marks", "HTML and script tags"}  # fmt: skip


@pytest.fixture(scope="module")
def pc(bundled_store: Path):
    from app import PaperChat

    return PaperChat(data_dir=bundled_store, llm="extractive")


def short(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@pytest.mark.parametrize("name", NAMES)
def test_a_bad_question_through_the_python_api_gets_an_answer_and_a_notice(pc, name: str, hardening) -> None:
    from app.backends import final_answer

    question, notice, _ = QUESTIONS[name]
    answers = {
        "ask": pc.ask(question),
        "stream_ask": final_answer(pc.stream_ask(question)),
        "chat": pc.chat(question),
    }
    result = pc.search_result(question)
    hardening.record(
        "questions", f"{name} (Python API)",
        f"answered: {short(answers['ask'].text)}; notice: {short(answers['ask'].notices[0]) if answers['ask'].notices else '-'}",
    )
    for method, answer in answers.items():
        assert answer.text.strip(), method
        if notice:
            assert any(notice in n for n in answer.notices), (method, answer.notices)
    if notice:
        assert any(notice in n for n in result.debug["notices"]), result.debug
    if name in STILL_FINDS:  # the question is still there around the noise: it is answered
        assert answers["ask"].citations, answers["ask"].text


def test_english_questions_with_foreign_words_get_no_language_notice() -> None:
    """Names and quoted titles are not a language: only the function words of one are."""
    questions = [
        json.loads(line)["question"] for line in (ROOT / "eval" / "questions.jsonl").read_text("utf-8").splitlines()
    ] + [
        "Which orals cite the Les Houches lectures on the physics of learning?",
        "Which talks by Hal Daumé III and Emmanuel Candès are about die casting?",
        "Which orals did Pablo de la Cruz y Solís write?",
    ]
    flagged = [q for q in questions if any(OTHER_LANGUAGE_NOTICE in n for n in prepare_question(q)[1])]
    assert not flagged


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=clean_env(PAPERCHAT_LLM="extractive"),
                          capture_output=True, text=True, encoding="utf-8", timeout=600)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in NAMES if QUESTIONS[n][2]])
def test_a_bad_question_through_the_cli_gets_an_answer_not_a_traceback(bundled_store: Path, name: str,
                                                                       hardening) -> None:  # fmt: skip
    question, notice, _ = QUESTIONS[name]
    ask = cli("ask", question, "--data-dir", str(bundled_store))
    search = cli("search", question, "--json", "--data-dir", str(bundled_store))
    hardening.record(
        "questions", f"{name} (CLI ask + search)",
        f"ask exit {ask.returncode}: {short(ask.stdout)}; search exit {search.returncode}",
    )
    for run in (ask, search):
        assert run.returncode == 0, run.stderr[-2000:]
        assert "Traceback" not in run.stderr, run.stderr[-2000:]
    assert ask.stdout.strip()
    found = json.loads(search.stdout)
    assert found["searched"] == 144
    if notice:
        assert notice in ask.stderr, ask.stderr
        assert any(notice in n for n in found["notices"]), found["notices"]


@pytest.mark.parametrize("name", NAMES)
def test_a_bad_question_on_the_page_gets_an_answer_or_a_prompt_to_type_one(pc, name: str, hardening) -> None:
    from app.ui import ChatHandlers, ChatSession

    question, notice, _ = QUESTIONS[name]
    handlers = ChatHandlers(pc)
    updates = list(handlers.respond(question, [], ChatSession()))
    final = updates[-1]
    status = " ".join(u.status for u in updates if u.status)
    chat = final.chat or []
    hardening.record("questions", f"{name} (page handler)",
                     f"{len(updates)} updates; status: {short(status.split('pc-notice')[-1] if 'pc-notice' in status else status, 90)}")  # fmt: skip
    assert updates and status, updates
    assert "Traceback" not in status and "went wrong" not in status
    if question.strip():
        assert chat and chat[-1]["role"] == "assistant" and chat[-1]["content"], chat
        if notice:
            assert notice.split(":")[0][:40] in status.replace("&#x27;", "'").replace("&quot;", '"'), status
    else:
        assert "Type a question first" in status


# ------------------------------------------------------------------- the model's share


@pytest.fixture
def stub() -> Iterator[Any]:
    from openai_stub import running_stub

    with running_stub() as server:
        yield server


def stub_chat(store: Path, stub: Any):
    from app import PaperChat
    from app.settings import Settings
    from openai_stub import FAKE_KEY

    return PaperChat(settings=Settings(data_dir=store, llm="openai", openai_api_key=FAKE_KEY, llm_base_url=stub.base_url,
                                       llm_timeout=20.0, llm_retries=0, local_model=store / "absent.gguf"))  # fmt: skip


def test_a_100_kb_question_is_cut_before_it_reaches_the_model(bundled_store: Path, stub, hardening) -> None:
    """The model gets at most the cut question (plus its sources), for a question and for a
    follow-up whose history holds the long question; the user is told."""
    from openai_stub import prompt_text

    pc = stub_chat(bundled_store, stub)
    answer = pc.ask(LONG)
    follow = pc.chat("Which of those " + LONG[len("Which orals "):], [(LONG, answer)])
    engine = pc.chat_engine()  # the llama-index chat engine keeps its own history
    engine.chat(LONG)
    engine_reply = engine.chat("Which of those " + LONG[len("Which orals "):])
    prompts = [prompt_text(r) for r in stub.chat_requests]
    longest = max(map(len, prompts)) if prompts else 0
    hardening.record(
        "questions", "100 KB question sent to a model (ask, chat follow-up, llama-index chat engine)",
        f"{len(prompts)} model requests, longest prompt {longest:,} characters; tail sent: "
        f"{any(TAIL_MARK in p for p in prompts)}; notice: {short(answer.notices[0]) if answer.notices else '-'}",
    )
    assert prompts, "the model was never asked"
    assert not any(TAIL_MARK in p for p in prompts)
    # the cut question may be quoted a few times (the follow-up's standalone form quotes the
    # previous question), never anything like the 100 KB that was typed
    phrase = "Please consider privacy accounting and clipping. "
    assert all(p.count(phrase) * len(phrase) <= 4 * MAX_QUESTION_CHARS for p in prompts), [p.count(phrase) for p in prompts]
    assert longest < len(LONG) / 4
    assert answer.backend == "openai" and any(CUT in n for n in answer.notices), answer.notices
    assert any(CUT in n for n in follow.notices), follow.notices
    assert any(CUT in n for n in engine_reply.metadata["answer"].notices)


# ------------------------------------------------------------------------------ filters

#: name -> (where as the Python API takes it, words the error must contain)
BAD_FILTERS: dict[str, tuple[Any, str]] = {
    "$ne operator as a value": ({"status": {"$ne": "Oral"}}, "status must be a short text value"),
    "$in operator as a value": ({"venue": {"$in": ["ICML", "NeurIPS"]}}, "venue must be a short text value"),
    "$or as a key": ({"$or": [{"status": "Oral"}, {"status": "Poster"}]}, "unknown filter field '$or'"),
    "$and as a key": ({"$and": [{"status": "Oral"}]}, "unknown filter field '$and'"),
    "a field paperchat does not filter on": ({"paper_id": "p_1"}, "unknown filter field 'paper_id'"),
    "a 10 KB value": ({"venue": "ICML" * 2500}, "venue must be a short text value"),
    "an empty value": ({"status": "  "}, "status must be a short text value"),
    "a list as a value": ({"status": ["Oral"]}, "status must be a short text value"),
    "year 'abc'": ({"year": "abc"}, "year must be a four-digit year"),
    "year True": ({"year": True}, "year must be a four-digit year"),
    "year 2.5": ({"year": 2.5}, "year must be a four-digit year"),
    "year 10**30": ({"year": 10**30}, "year must be a four-digit year"),
    "year with an operator": ({"year": {"$gte": 0}}, "year must be a four-digit year"),
    "filters that are not a mapping": ("status=Oral", "filters must map a field to a value"),
}


@pytest.fixture
def chroma_wheres(pc, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every ``where`` the store passes to Chroma while the test runs."""
    seen: list[Any] = []
    store = pc.store()
    original = store.query

    def spy(embedding: Any, n_results: int, where: Any = None, **kwargs: Any) -> Any:
        seen.append(where)
        return original(embedding, n_results, where=where, **kwargs)

    monkeypatch.setattr(store, "query", spy)
    return seen


def plain(where: Any) -> bool:
    """A where clause made of ``{field: {"$eq": scalar}}`` on known fields (and $and of those)."""
    from app.search import FILTER_FIELDS

    if where is None:
        return True
    if set(where) == {"$and"}:
        return all(plain(clause) for clause in where["$and"])
    ((field, condition),) = where.items()
    ((operator, value),) = condition.items()
    return field in FILTER_FIELDS and operator == "$eq" and isinstance(value, (str, int)) and not isinstance(value, bool)


@pytest.mark.parametrize("name", list(BAD_FILTERS))
def test_a_bad_filter_is_refused_before_it_reaches_chroma(pc, chroma_wheres: list[Any], name: str, hardening) -> None:
    from app.search import FilterError

    where, says = BAD_FILTERS[name]
    errors = []
    for call in (pc.search, pc.ask, pc.chat):
        with pytest.raises(FilterError) as caught:
            call("Which orals study DP-SGD?", where=where)
        errors.append(str(caught.value))
    hardening.record("filters", f"{name} (Python API)", f"FilterError: {short(errors[0], 90)}; reached Chroma: {bool(chroma_wheres)}")
    assert all(says in e for e in errors), errors
    assert all(len(e) < 300 for e in errors), "an over-long value must not be echoed whole"
    assert not chroma_wheres, chroma_wheres


def test_good_filters_reach_chroma_only_as_plain_equalities(pc, chroma_wheres: list[Any],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    # Filters keeping few papers are searched in memory and never reach Chroma; make every
    # filter take Chroma's filtered query, the path a filter value could reach Chroma by.
    monkeypatch.setattr("app.exact_dense.MAX_PAPERS", 0)
    for where in ({"status": "Oral"}, {"year": "2024"}, {"year": 2024, "venue": "ICML"},
                  {"status": '{"$ne": "Oral"}'}, {"venue": "ICML' OR 1=1 --"}):  # fmt: skip
        pc.search("Which orals study DP-SGD?", where=where)
    assert chroma_wheres and all(plain(w) for w in chroma_wheres), chroma_wheres


#: name -> (--where arguments, exit status, words the output must contain)
CLI_FILTERS: dict[str, tuple[list[str], int, str]] = {
    "--where status={\"$ne\": \"Oral\"} (taken as a literal)": (['status={"$ne": "Oral"}'], 0, "0 of 0 papers searched matched"),
    "--where $or=x": (["$or=x"], 1, "unknown filter field '$or'"),
    "--where year=abc": (["year=abc"], 1, "year must be a four-digit year like 2024, got 'abc'"),
    "--where year=2024; DROP TABLE": (["year=2024; DROP TABLE"], 1, "year must be a four-digit year"),
    "--where status=<10 KB>": (["status=" + "O" * 10_000], 1, "status must be a short text value"),
    "--where status (no value)": (["status"], 1, "--where expects FIELD=VALUE"),
    "--where =Oral (no field)": (["=Oral"], 1, "--where expects FIELD=VALUE"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CLI_FILTERS))
def test_a_bad_cli_filter_is_one_clear_line(bundled_store: Path, name: str, hardening) -> None:
    arguments, status, says = CLI_FILTERS[name]
    where = [part for value in arguments for part in ("--where", value)]
    run = cli("search", "Which orals study DP-SGD?", *where, "--data-dir", str(bundled_store))
    output = run.stdout + run.stderr
    hardening.record("filters", f"{name} (CLI)", f"exit {run.returncode}: {short(output, 90)}")
    assert run.returncode == status, output[-2000:]
    assert says in output, output[-2000:]
    assert "Traceback" not in output
    if status:
        assert len(run.stderr.strip().splitlines()) == 1 and len(run.stderr) < 300, run.stderr[-500:]


@pytest.mark.parametrize("field, value", [("year", "abc"), ("status", {"$ne": "Oral"}), ("venue", "x" * 500)])
def test_a_forged_dropdown_value_on_the_page_is_a_notice_not_a_crash(pc, field: str, value: Any, hardening) -> None:
    """The page's dropdowns offer only stored values, but a hand-written client sends anything."""
    from app.ui import ChatHandlers, ChatSession

    updates = list(ChatHandlers(pc).respond("Which orals study DP-SGD?", [], ChatSession(), **{field: value}))
    status = updates[-1].status or ""
    hardening.record("filters", f"page dropdown {field}={short(repr(value), 30)}", f"notice: {short(status.split('⚠')[-1], 90)}")
    assert "must be" in status and "went wrong" not in status, status
