"""The functions behind the chat page, called directly over real stores (no browser).

Two stores are built once per session: the bundled ICML 2024 orals (what ``make run``
serves) and a five-paper JSONL listing with orals and posters and one hostile paper, where
filters implied by the question ("orals") have something to narrow.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from app.paperchat import PaperChat
from app.papers import NEAREST_HEADING, UNTITLED_NOTE, Answer, Paper
from app.ui import (
    ChatHandlers,
    ChatSession,
    answer_events,
    build_demo,
    choose_filters,
    example_questions,
    without_implied_words,
)
from app.exports import bibtex, bibtex_key, csv_text
from app.lanes import Lane
from app.ui_render import answer_markdown, declined_markdown, safe_url, sources_html, text_pieces
from app.ui_status import answer_chips_html, pending_chips_html, status_html

LISTINGS = Path(__file__).resolve().parent.parent / "data" / "listings"
XSS = "<img src=x onerror=alert(1)>"
HOSTILE_URL = "javascript:alert(1)"

SMALL_LISTING = [
    {"title": "Auditing DP-SGD Implementations", "authors": ["Ada Lovelace", "Alan Turing"], "status": "Oral",
     "abstract": "We audit DP-SGD implementations. Shuffling breaks the privacy accounting of DP-SGD.",
     "url": "https://example.org/dpsgd-audit", "pdf": "https://example.org/dpsgd-audit.pdf"},
    {"title": "Private Vision Transformers with DP-SGD", "authors": ["Grace Hopper"], "status": "Poster",
     "abstract": "We pretrain vision transformers with DP-SGD under a strict privacy budget."},
    {"title": None, "authors": ["Barbara Liskov", "Edsger Dijkstra"], "status": "Oral",
     "abstract": "Differentially private clustering with DP-SGD style noise and tight accounting."},
    {"title": "Protein Folding with Equivariant Networks", "authors": ["Rosalind Franklin"], "status": "Poster",
     "abstract": "We predict protein structure from amino acid sequences with equivariant networks."},
    {"title": f"Hostile {XSS} Paper", "authors": [f"Mallory {XSS}"], "status": "Poster",
     "abstract": f"Jamming attacks on gossip protocols {XSS} and [click](javascript:alert(1)) links.",
     "url": HOSTILE_URL},
]


def run(handlers: ChatHandlers, question: str, session: ChatSession | None = None, **filters):
    """All updates of one question, and the session it was asked in."""
    session = session if session is not None else ChatSession()
    updates = list(handlers.respond(question, [], session, **filters))
    return updates, session


@pytest.fixture(scope="session")
def bundled(tmp_path_factory) -> ChatHandlers:
    pc = PaperChat(data_dir=tmp_path_factory.mktemp("ui-bundled") / "store")
    pc.ingest([LISTINGS], venue="ICML", year=2024, progress=False)
    return ChatHandlers(pc)


@pytest.fixture(scope="session")
def small(tmp_path_factory) -> ChatHandlers:
    folder = tmp_path_factory.mktemp("ui-small")
    listing = folder / "small.jsonl"
    listing.write_text("\n".join(json.dumps(p) for p in SMALL_LISTING) + "\n", encoding="utf-8")
    pc = PaperChat(data_dir=folder / "store")
    pc.ingest([listing], venue="ICML", year=2024, progress=False)
    return ChatHandlers(pc)


# -- streaming and sources ---------------------------------------------------------------------


def test_answer_streams_in_several_growing_pieces(bundled):
    updates, _ = run(bundled, "Which orals involve differential privacy?")
    texts = [u.chat[-1]["content"] for u in updates if u.chat]
    partial = texts[1:-1]
    assert len(partial) >= 3, texts
    assert all(b.startswith(a[: len(a) // 2]) and len(b) > len(a) for a, b in zip(partial, partial[1:]))
    assert updates[0].message == ""  # the question box is cleared at once
    assert "[2]" in texts[-1].replace("&#91;", "[").replace("&#93;", "]")


def test_sources_panel_has_one_card_per_citation_in_order(bundled):
    updates, session = run(bundled, "Which orals involve differential privacy?")
    answer = session.turns[-1].answer
    final = updates[-1]
    assert answer.citations
    card_ids = re.findall(r'data-paper-id="([^"]+)"', final.sources)
    assert card_ids == [p.id for p in answer.citations]
    assert f"{answer.matched:,} of {answer.searched:,} papers searched matched" in final.sources
    assert "Answered by <b>extractive</b>" in final.status
    assert "144 papers loaded" in final.status
    for paper in answer.citations:
        if paper.evidence:
            assert "<mark>" in final.sources


def test_dp_sgd_question_cites_vip_in_chat_and_sources(bundled):
    updates, session = run(bundled, "Which orals study DP-SGD?")
    final = updates[-1]
    assert any("ViP" in (p.title or "") for p in session.turns[-1].answer.citations)
    assert "ViP" in final.chat[-1]["content"]
    assert "ViP" in final.sources


def test_nothing_matched_says_so(bundled):
    updates, session = run(bundled, "Which orals study DP-SGD?", status="Poster")
    final = updates[-1]
    assert session.turns[-1].answer.citations == []
    assert "0 of 0 papers searched matched" in final.sources
    assert final.bibtex_path is None and final.downloads_visible is False


def test_empty_question_asks_for_one(bundled):
    updates, session = run(bundled, "   ")
    assert len(updates) == 1 and "Type a question" in updates[0].status
    assert session.turns == []


# -- filters -----------------------------------------------------------------------------------


def test_filter_to_a_status_not_present_finds_nothing(bundled):
    _, any_session = run(bundled, "Which orals involve differential privacy?")
    _, filtered = run(bundled, "Which orals involve differential privacy?", status="Poster")
    assert any_session.turns[-1].answer.citations
    assert filtered.turns[-1].answer.citations == []
    assert filtered.turns[-1].answer.filters == {"status": "Poster"}


def test_filters_narrow_results_and_show_as_chips(small):
    updates, session = run(small, "Which papers use DP-SGD?", status="Poster")
    cited = session.turns[-1].answer.citations
    assert cited and all(p.status == "Poster" for p in cited)
    assert "pc-chip-user" in updates[-1].chips and "Poster" in updates[-1].chips


def test_implied_filter_is_shown_and_can_be_removed(small):
    updates, session = run(small, "Which orals use DP-SGD?")
    first = session.turns[-1]
    assert first.implied == {"status": "Oral"}
    assert all(p.status == "Oral" for p in first.answer.citations)
    assert "pc-chip-implied" in updates[-1].chips and 'data-remove="status"' in updates[-1].chips

    again = list(small.ask_without_implied([], session))
    second = session.turns[-1]
    assert second.question == first.question and second.ignored == {"status": "Oral"}
    assert second.implied == {}
    assert {p.status for p in second.answer.citations} == {"Oral", "Poster"}
    assert "pc-chip-ignored" in again[-1].chips
    assert "asked again without status: Oral" in again[0].chat[-2]["content"]


def test_ignore_checkbox_keeps_filters_the_user_chose(small):
    _, session = run(small, "Which orals use DP-SGD?", status="Oral", ignore_implied=True)
    turn = session.turns[-1]
    assert turn.ignored == {} and turn.chosen == {"status": "Oral"}
    assert all(p.status == "Oral" for p in turn.answer.citations)


def test_question_rewrite_and_filter_choice():
    assert without_implied_words("Which orals study DP-SGD?", {"status": "Oral"}) == "Which papers study DP-SGD?"
    assert without_implied_words("Which ICML 2024 oral uses X?", {"status": "Oral", "venue": "ICML"}) == "Which paper uses X?"
    assert choose_filters("any", "2024", "Oral") == {"year": 2024, "status": "Oral"}
    assert choose_filters(None, "any", "") == {}


def test_filter_chips_for_the_next_question(bundled):
    html_text = bundled.filters_changed("ICML", "2024", "any")
    assert "venue" in html_text and "2024" in html_text and "Next question" in html_text
    assert 'data-clear="venue"' in html_text and 'data-clear="year"' in html_text


# -- sessions ----------------------------------------------------------------------------------


def test_sessions_do_not_share_history(bundled):
    _, first = run(bundled, "Which orals involve differential privacy?")
    _, second = run(bundled, "Which orals are about diffusion models?")
    assert [t.question for t in first.turns] == ["Which orals involve differential privacy?"]
    assert [t.question for t in second.turns] == ["Which orals are about diffusion models?"]
    assert first.workdir != second.workdir
    assert {p.id for p in first.turns[0].answer.citations} != {p.id for p in second.turns[0].answer.citations}


def test_history_grows_and_new_chat_clears_it(bundled):
    _, session = run(bundled, "Which orals involve differential privacy?")
    run(bundled, "Which orals are about diffusion models?", session)
    assert [q for q, _ in session.history()] == [t.question for t in session.turns] and len(session.turns) == 2
    folder = Path(session.workdir)
    update = bundled.new_chat(session, "any", "any", "Oral")
    assert update.chat == [] and update.session.turns == [] and not folder.exists()
    assert 'data-clear="status"' in update.pending and "follow-ups keep" not in update.pending


def test_page_state_starts_empty_for_every_tab(bundled):
    demo = build_demo(bundled.pc)
    states = [b for b in demo.blocks.values() if type(b).__name__ == "State"]
    assert len(states) == 1 and isinstance(states[0].value, ChatSession) and states[0].value.turns == []


# -- exports -----------------------------------------------------------------------------------


def test_exports_hold_the_cited_papers(bundled):
    updates, session = run(bundled, "Which orals involve differential privacy?")
    final, cited = updates[-1], session.turns[-1].answer.citations
    assert final.downloads_visible is True
    bib = Path(final.bibtex_path).read_text(encoding="utf-8")
    table = list(csv.DictReader(io.StringIO(Path(final.csv_path).read_text(encoding="utf-8"))))
    assert Path(final.bibtex_path).parent == Path(session.workdir)
    assert bib.count("@inproceedings{") == len(cited) == len(table)
    for paper in cited:
        if paper.title:
            assert paper.title in bib
    assert [row["citation"].lstrip("'") for row in table] == [p.citation for p in cited]
    assert any("ViP" in row["title"] for row in table)


def test_bibtex_keys_and_untitled_note():
    titled = Paper("a", "ViP: A Private Model", ["Yaodong Yu", "Chuan Guo"], "x", "ICML", 2024, "Oral", None)
    untitled = Paper("b", None, ["Tim Rocktäschel"], "An abstract.", "ICML", 2024, "Oral", None)
    same = Paper("c", "ViP again", ["Ann Yu"], "y", "ICML", 2024, "Oral", None)
    assert bibtex_key(titled) == "yu2024vip" and bibtex_key(untitled) == "rocktaschel2024untitled"
    text = bibtex([titled, untitled, same])
    assert "@inproceedings{yu2024vip," in text and "@inproceedings{yu2024vipa," in text
    assert f"note = {{{UNTITLED_NOTE}}}" in text
    assert text.count("{") == text.count("}")
    assert "title = {ViP: A Private Model}" in text


def test_csv_cells_cannot_run_as_formulas():
    paper = Paper("a", "=HYPERLINK(\"http://evil\")", ["@admin"], "x", None, None, None, None)
    row = next(csv.DictReader(io.StringIO(csv_text([paper]))))
    assert row["title"].startswith("'=") and row["authors"].startswith("'@")


# -- hostile text ------------------------------------------------------------------------------


def hostile_paper() -> Paper:
    return Paper(
        id="p_evil", title=f"Evil {XSS}", authors=[f"Eve {XSS}"], abstract=XSS, venue="ICML", year=2024,
        status="Oral", url=HOSTILE_URL, links={"pdf": " javascript:alert(2)", "site": "data:text/html,x"},
        evidence=XSS,
    )


def assert_inert(markup: str, markdown: bool = False) -> None:
    """No live tag, no script URL in an attribute, and in Markdown no link syntax left unescaped."""
    lowered = markup.lower()
    assert "<img" not in lowered and "onerror=alert" not in lowered.replace("&lt;img src=x onerror=alert", "")
    assert not re.search(r"""(href|src)\s*=\s*["']?\s*(javascript|data|vbscript):""", lowered)
    if markdown:
        assert "](javascript:" not in lowered and "\\](javascript:" not in lowered


def test_hostile_paper_renders_inert_in_every_part_of_the_page():
    paper = hostile_paper()
    answer = Answer(text=f"[1] {XSS} [click](javascript:alert(1))", citations=[paper], backend="extractive",
                    searched=1, matched=1, filters={"status": XSS}, notices=[XSS])
    for markup in (sources_html(answer), answer_chips_html({"venue": XSS}, {"status": XSS}, {"year": XSS}, {"venue": XSS}),
                   pending_chips_html({"venue": XSS}, {"status": XSS}), pending_chips_html({}, {XSS: XSS}),
                   status_html({"records": 1, "listings": {XSS: 1}}, answer, backend=XSS)):
        assert_inert(markup)
    assert_inert(answer_markdown(answer.text, answer.citations), markdown=True)
    assert "&lt;img src=x onerror=alert(1)&gt;" in sources_html(answer)
    declined = Answer(text=f"No. {NEAREST_HEADING}\n- {XSS}", citations=[], backend="extractive", nearest=[paper])
    assert_inert(sources_html(declined))
    assert_inert(declined_markdown(declined), markdown=True)
    assert "&lt;img src=x onerror=alert(1)&gt;" in sources_html(declined)
    assert "<mark>&lt;img" in sources_html(answer)


def test_hostile_listing_end_to_end(small):
    updates, session = run(small, "Which papers are about jamming attacks on gossip protocols?")
    final = updates[-1]
    assert any("Hostile" in (p.title or "") for p in session.turns[-1].answer.citations)
    for markup in (final.sources, final.chips, final.pending, final.status, updates[0].current):
        assert_inert(markup)
    assert_inert(final.chat[-1]["content"], markdown=True)
    assert "Hostile Paper — Mallory" in final.chat[-1]["content"]
    assert "[click](javascript:alert(1))" in final.sources  # shown as text, not a link


def test_tex_links_and_maths_in_a_listing_stay_text():
    paper = Paper("p_tex", "Tex $<img src=x onerror=alert(1)>$", ["A B"],
                  "See \\href{javascript:alert(1)}{our code} and $\\epsilon$.", "ICML", 2024, "Oral", None,
                  evidence="See \\href{javascript:alert(1)}{our code} and $\\epsilon$.")
    answer = Answer(text="[1] See \\href{javascript:alert(1)}{our code}.", citations=[paper], backend="extractive")
    html_text, markdown = sources_html(answer), answer_markdown(answer.text, [paper])
    assert_inert(html_text)
    assert_inert(markdown, markdown=True)
    assert "our code (javascript:alert(1)) and ε." in html_text
    assert "our code \\(javascript:alert\\(1\\)\\)" in markdown


def test_only_http_links_survive():
    assert safe_url("https://icml.cc/virtual/2024/oral/1") == "https://icml.cc/virtual/2024/oral/1"
    for bad in ("javascript:alert(1)", "JaVaScRiPt:alert(1)", "java\nscript:alert(1)", " data:text/html,x",
                "vbscript:x", "//evil.org/x", "https:///nohost", "", None):
        assert safe_url(bad) is None, bad


def test_citation_numbers_link_to_safe_urls_only():
    good = Paper("a", "Good", ["A B"], "x", None, None, None, "https://example.org/good")
    bad = Paper("b", "Bad", ["C D"], "x", None, None, None, HOSTILE_URL)
    markdown = answer_markdown("See [1] and [2] and [3].", [good, bad])
    assert 'href="https://example.org/good"' in markdown
    assert "javascript" not in markdown
    # the hostile URL is dropped; [2] links to a search for the paper instead, labelled as one
    assert 'href="https://scholar.google.com/scholar?q=%22Bad%22"' in markdown
    assert 'title="The listing gave no link: search Google Scholar by the title"' in markdown
    assert markdown.count("<a ") == 2 and "<b>&#91;3&#93;</b>" in markdown


# -- streaming backends and examples -----------------------------------------------------------


class StreamingPaperChat:
    """A PaperChat stand-in whose ``stream_ask`` streams tokens, as generative backends will."""

    def __init__(self, pc: PaperChat) -> None:
        self.pc = pc
        self.searcher = pc.searcher
        self.calls: list[dict] = []

    def stats(self):
        return self.pc.stats()

    def stream_ask(self, question, where=None):
        self.calls.append({"question": question, "where": where})
        answer = self.pc.ask(question, where=where)
        yield from answer.text.split(" ")[:1]
        yield from (" " + word for word in answer.text.split(" ")[1:])
        answer.backend = "stub-stream"
        answer.notices.append("openai timed out; answered by the next backend")
        yield answer


def test_streaming_method_is_used_token_by_token(bundled):
    stub = StreamingPaperChat(bundled.pc)
    handlers = ChatHandlers(stub)
    updates, session = run(handlers, "Which orals involve differential privacy?", status="Oral")
    assert stub.calls == [{"question": "Which orals involve differential privacy?", "where": {"status": "Oral"}}]
    assert len(updates) > 20
    assert session.turns[-1].answer.backend == "stub-stream"
    assert "stub-stream" in updates[-1].status and "openai timed out" in updates[-1].status


class AskOnly:
    """Only ``ask``: what the page falls back to when a PaperChat cannot stream."""

    def __init__(self, pc: PaperChat) -> None:
        self.pc = pc

    def ask(self, question, where=None):
        return self.pc.ask(question, where=where)


@pytest.mark.parametrize("make", [lambda pc: pc, AskOnly], ids=["stream_chat", "ask-only"])
def test_whole_answers_are_split_per_citation(bundled, make):
    events = list(answer_events(make(bundled.pc), "Which orals involve differential privacy?", [], None))
    assert isinstance(events[-1], Answer)
    assert "".join(events[:-1]) == events[-1].text
    assert len(events) - 1 == len(text_pieces(events[-1].text)) == len(events[-1].citations) + 1


def test_follow_up_refers_to_this_tabs_previous_answer(bundled):
    _, session = run(bundled, "Which orals involve differential privacy?")
    listed = session.turns[-1].answer.citations
    updates, _ = run(bundled, "Who wrote the second one?", session)
    assert [p.id for p in session.turns[-1].answer.citations] == [listed[1].id]
    assert listed[1].id in updates[-1].sources
    _, other_tab = run(bundled, "Who wrote the second one?")
    assert [p.id for p in other_tab.turns[-1].answer.citations] != [listed[1].id]


def test_example_questions_come_from_the_corpus(bundled):
    examples = example_questions(bundled.pc)
    assert examples[0] == "Which orals study DP-SGD?"
    assert 2 <= len(examples) <= 4
    assert any("co-author" in q for q in examples)
    assert "What topics are most common?" in examples  # 144 papers: enough to count themes


def test_login_comes_from_the_flag_or_the_environment(monkeypatch):
    from app.serve import auth_from, parse_auth

    monkeypatch.setenv("PAPERCHAT_AUTH", "env-user:env:pass")
    assert auth_from(None) == ("env-user", "env:pass")
    assert auth_from("flag-user:secret") == ("flag-user", "secret")
    monkeypatch.delenv("PAPERCHAT_AUTH")
    assert auth_from(None) is None
    with pytest.raises(ValueError, match="USER:PASSWORD"):
        parse_auth("no-colon")


# -- readable listing text, links, status ------------------------------------------------------


def card_of(sources: str, paper_id: str) -> str:
    """The HTML of one source card."""
    start = sources.index(f'data-paper-id="{paper_id}"')
    return sources[start : sources.index("</article>", start)]


def test_listing_markup_is_shown_readable_in_chat_and_cards(bundled):
    updates, session = run(bundled, "Which orals study DP-SGD?")
    final = updates[-1]
    vip = next(p for p in session.turns[-1].answer.citations if "ViP" in (p.title or ""))
    assert "**Vi**" in vip.abstract and "$\\epsilon=8$" in vip.abstract  # the stored text is untouched
    card = card_of(final.sources, vip.id)
    assert "ViP—a Vision transformer with differential Privacy—under" in card
    assert "ε=8" in card
    assert "**" not in card and "$" not in card and "---" not in card


def test_a_declined_answer_shows_its_closest_papers_as_cards_without_numbers(bundled):
    updates, session = run(bundled, "Which orals study spiking neural networks or neuromorphic hardware?")
    answer, final = session.turns[-1].answer, updates[-1]
    assert answer.citations == [] and answer.nearest
    chat = final.chat[-1]["content"].replace("\\", "")
    assert "None of the papers in the loaded listings answer this question" in chat
    assert "&#91;" not in chat, "closest papers get no citation numbers"
    assert len([line for line in chat.splitlines() if line.startswith("– ")]) == len(answer.nearest)
    assert re.findall(r'data-paper-id="([^"]+)"', final.sources) == [p.id for p in answer.nearest]
    assert "pc-num" not in final.sources and final.sources.count("below the relevance bar") == len(answer.nearest)
    assert "0 of 144 papers searched matched" in final.sources
    assert not final.downloads_visible, "nothing to export: no paper was cited"


def test_an_extractive_answer_lists_one_line_per_paper_in_the_chat(bundled):
    """The evidence sentence is on each paper's card beside the chat, not repeated in it."""
    updates, session = run(bundled, "Which orals study DP-SGD?")
    answer, chat = session.turns[-1].answer, updates[-1].chat[-1]["content"].replace("\\", "")
    vip = next(p for p in answer.citations if "ViP" in (p.title or ""))
    untitled = next(p for p in answer.citations if not p.title)

    lines = [line for line in chat.splitlines() if "&#91;" in line]
    assert len(lines) == len(answer.citations) == answer.matched
    assert vip.title in chat and "ViP—a Vision transformer" not in chat and "Evidence" not in chat
    assert "Untitled: “We demonstrate a substantial gap" in chat and "Lynn Chua, Badih Ghazi" in chat
    assert chat.startswith(f"{answer.matched:,} of {answer.searched:,} papers searched matched")
    assert untitled.evidence and untitled.evidence in answer.text  # the API's text keeps the evidence


def test_evidence_is_highlighted_on_the_card_without_opening_the_abstract(bundled):
    updates, session = run(bundled, "Which orals study DP-SGD?")
    sources = updates[-1].sources
    for paper in session.turns[-1].answer.citations:
        card = card_of(sources, paper.id)
        visible = card.split("<details", 1)[0]
        assert "Why it matched:" in visible and "<mark>" in visible
        inside = card.split("<details", 1)[1]
        assert inside.count("<mark>") == 1  # and marked again inside the full abstract


def test_every_cited_paper_has_a_link_and_a_search_says_so(bundled):
    updates, session = run(bundled, "Which orals involve differential privacy?")
    final, cited = updates[-1], session.turns[-1].answer.citations
    assert cited and all(p.url is None and not p.links for p in cited)  # the bundled listings give none
    for paper in cited:
        card = card_of(final.sources, paper.id)
        assert "No link in the listing. Search by" in card
        assert 'href="https://scholar.google.com/scholar?q=' in card and 'href="https://arxiv.org/search/' in card
    chat = final.chat[-1]["content"]
    assert chat.count('href="https://scholar.google.com/scholar?q=') == len(cited)
    assert "The listing gave no link: search Google Scholar" in chat


def test_untitled_card_is_short_and_names_the_authors_once(bundled):
    updates, session = run(bundled, "Which orals study DP-SGD?")
    untitled = [p for p in session.turns[-1].answer.citations if not p.title]
    assert untitled
    for paper in untitled:
        card = card_of(updates[-1].sources, paper.id)
        assert "Untitled: “" in card and "[untitled:" not in card
        assert card.count(paper.authors[0]) == 1
        assert "No link in the listing. Search by the abstract&#x27;s first words and the first author:" in card
    chat = updates[-1].chat[-1]["content"].replace("\\", "")
    assert all(chat.count(p.authors[0]) == 1 for p in untitled)


def test_cards_name_listings_readably_with_the_file_in_a_tooltip(bundled):
    updates, session = run(bundled, "Which orals study DP-SGD?")
    vip = next(p for p in session.turns[-1].answer.citations if "ViP" in (p.title or ""))
    card = card_of(updates[-1].sources, vip.id)
    origin = re.search(r'<div class="pc-origin" title="([^"]*)">([^<]*)</div>', card)
    assert origin, card
    assert origin.group(2).startswith("From listing 00") and "_" not in origin.group(2)
    assert ".txt entry" in origin.group(1)
    assert re.search(r"relevance: rank \d+ of \d+", card)
    assert "listings (listing 000, listing 001)" in updates[-1].status


def test_status_line_names_the_model_and_explains_extractive(bundled):
    updates, _ = run(bundled, "Which orals study DP-SGD?")
    assert "Answered by <b>extractive</b> (no language model: it lists the matching papers and quotes their abstracts)" in updates[-1].status
    answer = Answer(text="[1] x", citations=[], backend="openai", debug={"model": "gpt-4o-mini"})
    assert "Answered by <b>OpenAI</b> model <b>gpt-4o-mini</b>" in status_html({"records": 3}, answer)
    local = Answer(text="x", citations=[], backend="local", debug={"model": "qwen2.5-0.5b-instruct-q4_k_m.gguf"})
    assert "a local model (llama.cpp)</b> model <b>qwen2.5-0.5b" in status_html({"records": 3}, local)
    assert "Answers by <b>extractive</b>" in bundled.status()


def test_the_question_stays_visible_above_the_chat(bundled):
    updates, _ = run(bundled, "Which orals study DP-SGD?")
    assert "You asked:" in updates[0].current and "Which orals study DP-SGD?" in updates[0].current
    assert all(u.current is None for u in updates[1:])  # not cleared while the answer streams


# -- exports number papers as the answer did ---------------------------------------------------


def test_csv_numbers_and_ranks_match_the_answer_and_the_cards(bundled):
    updates, session = run(bundled, "Which orals involve differential privacy?")
    final, answer = updates[-1], session.turns[-1].answer
    rows = list(csv.DictReader(io.StringIO(Path(final.csv_path).read_text(encoding="utf-8"))))
    in_text = [int(n) for n in re.findall(r"^\[(\d+)\]", answer.text, flags=re.MULTILINE)]
    assert [int(r["number"]) for r in rows] == in_text
    cards = re.findall(r'id="pc-source-(\d+)".*?relevance: rank (\d+) of', final.sources)
    assert [(int(r["number"]), int(r["rank"])) for r in rows] == [(int(n), int(k)) for n, k in cards]


def test_csv_keeps_the_numbers_a_model_cited_with(bundled, tmp_path):
    papers = [Paper("a", "A", ["X Y"], "x", None, None, None, None, score=0.2),
              Paper("b", "B", ["Z W"], "y", None, None, None, None, score=0.3)]
    answer = Answer(text="See [2] and [5].", citations=papers, backend="openai", debug={"source_numbers": [2, 5]})
    _, table = bundled.write_exports(ChatSession(workdir=str(tmp_path)), answer)
    rows = list(csv.DictReader(io.StringIO(Path(table).read_text(encoding="utf-8"))))
    assert [(r["number"], r["rank"], r["title"]) for r in rows] == [("2", "2", "A"), ("5", "1", "B")]


# -- filter chips: the answer's, removable by a click; the next question's, separate -----------


def test_clicking_an_implied_chip_asks_again_without_it(small):
    updates, session = run(small, "Which orals use DP-SGD?")
    assert 'data-remove="status"' in updates[-1].chips
    assert "Next question:" in updates[-1].pending and "follow-ups keep" in updates[-1].pending
    assert "data-remove" not in updates[-1].pending
    again = list(small.remove_filter("status", updates[-1].chat, session))
    turn = session.turns[-1]
    assert turn.ignored == {"status": "Oral"} and turn.answer.filters == {}
    assert {p.status for p in turn.answer.citations} == {"Oral", "Poster"}
    assert "<s>status: Oral</s>" in again[-1].chips and 'data-remove="status"' not in again[-1].chips
    assert again[0].filters is None  # the dropdowns were not touched
    assert len(again[-1].chat) == 4


def test_clicking_a_chosen_chip_clears_the_dropdown_and_asks_again(small):
    updates, session = run(small, "Which papers use DP-SGD?", status="Poster")
    assert {p.status for p in session.turns[-1].answer.citations} == {"Poster"}
    again = list(small.remove_filter("status", [], session, "any", "any", "Poster"))
    assert again[0].filters == {"status": "any"}
    assert "Oral" in {p.status for p in session.turns[-1].answer.citations}
    assert "no filters" in again[-1].pending


def test_chip_clicks_accept_only_known_fields(small):
    _, session = run(small, "Which orals use DP-SGD?")
    assert list(small.remove_filter("<img>", [], session)) == []
    assert list(small.remove_filter("venue", [], session)) == []  # not a filter of this answer
    assert small.clear_filter("status") == {"status": "any"} and small.clear_filter("evil") == {}


def test_next_question_chips_follow_the_dropdowns(small):
    _, session = run(small, "Which orals use DP-SGD?")
    assert "follow-ups keep this answer’s filters (status: Oral)" in small.filters_changed("any", "any", "any", False, session)
    chosen = small.filters_changed("any", "any", "Poster", True, session)
    assert 'data-clear="status"' in chosen and "follow-ups keep" not in chosen and "will be ignored" in chosen


# -- model answers wait in their own lane ------------------------------------------------------


class ModelPaperChat(StreamingPaperChat):
    """A streaming stand-in that reports a language-model backend, so the page gates it."""

    class query_engine:  # noqa: N801 - mirrors PaperChat.query_engine.backend.name
        class backend:  # noqa: N801
            name = "openai"


def test_a_busy_model_shows_the_place_in_line_then_answers(bundled):
    lane = Lane(1, poll_seconds=0.02)
    handlers = ChatHandlers(ModelPaperChat(bundled.pc), lane=lane)
    assert handlers.uses_model
    holder = lane.join()
    assert holder.admitted(0)
    steps = handlers.respond("Which orals study DP-SGD?", [], ChatSession())
    shown = [next(steps), next(steps)]
    assert "The language model is busy answering another question. Yours is number 1 in line" in shown[1].chat[-1]["content"]
    assert "queued" in shown[1].status and lane.waiting == 1
    holder.leave()
    rest = list(steps)
    assert "ViP" in rest[-1].chat[-1]["content"] and lane.running == 0 and lane.waiting == 0


def test_extractive_answers_never_wait_for_the_model_lane(bundled):
    lane = Lane(1, poll_seconds=0.02)
    handlers = ChatHandlers(bundled.pc, lane=lane)
    holder = lane.join()
    assert holder.admitted(0) and not handlers.uses_model
    updates, _ = run(handlers, "Which orals study DP-SGD?")
    assert not any("busy" in u.chat[-1]["content"] for u in updates if u.chat)
    holder.leave()
