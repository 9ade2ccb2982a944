"""The ``paperchat`` command line: ingest, search, ask, chat, stats, eval, config.

Every subcommand takes the store options (``--data-dir``, ``--chroma-url``, ``--embedder``),
which default to the ``PAPERCHAT_*`` environment variables. Errors a user can fix are printed
as one line saying what to do, without a traceback, and exit with status 1.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from typing import Any

EPILOG = """examples:
  paperchat ingest data/listings/ --venue ICML --year 2024
  paperchat search "Which orals study DP-SGD?"
  paperchat search "diffusion models" -k 5 --where status=Oral --json
  paperchat ask "Which orals did Tim Rocktäschel co-author?"
  paperchat ask "Which orals with more than 20 authors are about safety?"
  paperchat ask "Which orals are about LLMs but not about agents?"
  paperchat search "Which papers have 'diffusion' in the title?" -k 200
  paperchat ask "Which authors have the most orals?"
  paperchat ask "Which institutions have the most papers?"
  paperchat ask "How many orals are there?"
  paperchat ask "What topics are most common?"
  paperchat chat --llm local
  paperchat stats
  paperchat eval eval/questions.jsonl
  paperchat serve --port 7860

Settings come from flags, then PAPERCHAT_* environment variables (see `paperchat config`)."""


SEARCH_EXAMPLES = """examples:
  paperchat search "Which orals study DP-SGD?"
  paperchat search "papers by Lynn Chua"
  paperchat search "diffusion models" -k 5 --where status=Oral
  paperchat search "graph neural networks" --json | jq '.[].title'"""

ASK_EXAMPLES = """examples:
  paperchat ask "Which orals study DP-SGD?"
  paperchat ask "Which orals are about LLMs but not about agents?"
  paperchat ask "How many orals are about reinforcement learning?"
  paperchat ask "Summarise the orals on watermarking" --llm openai --model gpt-4o-mini
  paperchat ask "Which orals study DP-SGD?" --json"""

LLM_HELP = ("answer backend: auto (the first that is configured of openai, openai-compatible, local, "
            "extractive), or one of them by name (env PAPERCHAT_LLM; default auto)")


def _store_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("store")
    group.add_argument("--data-dir", help="store directory (env PAPERCHAT_DATA_DIR; default ./.paperchat)")
    group.add_argument("--chroma-url", help="use a Chroma server instead (env PAPERCHAT_CHROMA_URL)")
    group.add_argument("--embedder", help="embedding model (env PAPERCHAT_EMBEDDER; default minilm-l6-int8)")
    return parent


def _question_command(sub: Any, name: str, store: argparse.ArgumentParser, *, help: str,
                      description: str, examples: str) -> argparse.ArgumentParser:  # fmt: skip
    """A subcommand that takes one question and ``--where`` filters, its help ending in examples."""
    command = sub.add_parser(
        name, parents=[store], help=help, description=description, epilog=examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    command.add_argument("question", help="a question (or keywords), in quotes")
    command.add_argument("--where", action="append", metavar="FIELD=VALUE", help="filter: venue, year or status")
    return command


def _where_pairs(values: Sequence[str] | None) -> dict[str, Any]:
    where: dict[str, Any] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"paperchat: error: --where expects FIELD=VALUE (e.g. status=Oral), got {item!r}")
        where[key.strip()] = value.strip()
    return where


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paperchat",
        description="Ask questions about conference paper listings; every answer cites its papers.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    store = _store_options()

    ingest = sub.add_parser(
        "ingest",
        parents=[store],
        help="parse listings and add them to the store",
        description="Parse listing files (papers.cool text, ICML virtual-site text, paperlists JSON, "
        "JSONL or CSV; detected from content) and add them to the store. Re-running is safe: "
        "papers are merged across listings and unchanged ones are not re-embedded.",
    )
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="listing files or directories")
    ingest.add_argument("--format", help="force a format: paperscool, icml-virtual, paperlists, jsonl, csv")
    ingest.add_argument("--venue", help="venue for every record of these files (e.g. ICML)")
    ingest.add_argument("--year", type=int, help="year for every record of these files")
    ingest.add_argument("--status", help="status for every record (Oral, Spotlight, Poster)")
    ingest.add_argument("--rebuild", action="store_true", help="delete the store first (after an embedder change)")
    ingest.add_argument("--no-progress", action="store_true", help="no progress bar")

    search = _question_command(
        sub, "search", store,
        help="papers for a question, best first",
        description="The papers that answer a question, best first, with no answer text. Without -k "
        "it lists every paper judged relevant (and says how many were searched), so a list "
        "question gets a complete list; a question the listings cannot answer lists none.",
        examples=SEARCH_EXAMPLES,
    )  # fmt: skip
    search.add_argument("-k", type=int, help="at most K papers (default: all that are relevant)")
    search.add_argument("--json", action="store_true", help="machine-readable output")

    ask = _question_command(
        sub, "ask", store,
        help="an answer with citations",
        description="An answer to a question, citing the papers it comes from. Citations are "
        "always papers of the store, with the abstract sentence that supports each; without a "
        "language model the answer is that list (the extractive backend).",
        examples=ASK_EXAMPLES,
    )  # fmt: skip
    ask.add_argument("--llm", help=LLM_HELP)
    ask.add_argument("--model", help="model for openai / openai-compatible (env PAPERCHAT_LLM_MODEL)")
    ask.add_argument("--json", action="store_true", help="machine-readable output")

    stats = sub.add_parser(
        "stats",
        parents=[store],
        help="what the store holds",
        description="How many papers the store holds, how many lack a title or an abstract or "
        "name their institutions, and the counts by venue, status and listing file.",
    )
    stats.add_argument("--json", action="store_true", help="machine-readable output")

    evaluate = sub.add_parser(
        "eval",
        parents=[store],
        help="measure retrieval and citation quality on a question set",
        description="Score search and ask on a JSONL question set whose gold answers are positions "
        "in a reference listing (default: the ICML 2024 virtual-site orals file).",
    )
    evaluate.add_argument("questions", help="JSONL question file (e.g. eval/questions.jsonl)")
    evaluate.add_argument("--reference", default="001_49cbb665570d8f3c.txt", help="listing file the gold positions refer to")
    evaluate.add_argument("--json", action="store_true", help="machine-readable output")
    evaluate.add_argument("--report", help="also write the per-question results to this JSON file")
    evaluate.add_argument("--llm", help=LLM_HELP)
    evaluate.add_argument("--model", help="model for openai / openai-compatible (env PAPERCHAT_LLM_MODEL)")

    serve = sub.add_parser(
        "serve",
        parents=[store],
        help="serve the chat page in the browser",
        description="Serve the chat page (default http://127.0.0.1:7860) over an ingested store. "
        "Binds to loopback unless --host says otherwise; never makes a public link unless --share.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1; 0.0.0.0 exposes it)")
    serve.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    serve.add_argument("--auth", metavar="USER:PASS", help="require this login (env PAPERCHAT_AUTH)")
    serve.add_argument("--share", action="store_true", help="also create a public gradio.live link (sends traffic through it)")
    serve.add_argument("--llm", help=LLM_HELP)
    serve.add_argument("--model", help="model for openai / openai-compatible (env PAPERCHAT_LLM_MODEL)")

    chat = sub.add_parser(
        "chat",
        parents=[store],
        help="an interactive conversation with follow-up questions",
        description="Ask, then follow up: \"which of those use transformers?\", \"who wrote the second one?\". "
        "Answers stream as they are written. Commands: /sources (the last answer's papers), "
        "/reset (start over), /quit (or Ctrl-D).",
    )
    chat.add_argument("--where", action="append", metavar="FIELD=VALUE", help="filter every turn: venue, year or status")
    chat.add_argument("--llm", help=LLM_HELP)
    chat.add_argument("--model", help="model for openai / openai-compatible (env PAPERCHAT_LLM_MODEL)")

    config = sub.add_parser(
        "config",
        help="print the effective settings (secrets hidden)",
        description="Every setting with its value (from the PAPERCHAT_* environment variables, "
        "else the default), the variable that sets it and what it does; API keys are hidden.",
    )
    config.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def _paperchat(args: argparse.Namespace, **extra: Any):
    """The PaperChat for a command; one that answers says on stderr what ``auto`` chose.

    ``auto`` follows whatever OPENAI_API_KEY / OPENAI_BASE_URL the shell happens to hold, so
    the user is told which backend (and which server) will see the question before it is sent.
    """
    from app.backends import auto_summary, resolve
    from app.paperchat import PaperChat

    pc = PaperChat(
        data_dir=getattr(args, "data_dir", None),
        chroma_url=getattr(args, "chroma_url", None),
        embedder=getattr(args, "embedder", None),
        **extra,
    )
    if "llm" in extra and resolve(pc.settings.llm) == "auto":
        print(f"paperchat: {auto_summary(pc.settings)}", file=sys.stderr)
    return pc


def cmd_ingest(args: argparse.Namespace) -> int:
    # SIGTERM (``kill``, a container stopping) unwinds like Ctrl-C, so the ingest undoes its
    # partial writes instead of dying in the middle of them.
    signal.signal(signal.SIGTERM, _interrupt)
    pc = _paperchat(args)
    try:
        report = pc.ingest(
            args.paths,
            format=args.format,
            venue=args.venue,
            year=args.year,
            status=args.status,
            progress=False if args.no_progress else None,
            rebuild=args.rebuild,
        )
    except KeyboardInterrupt:
        print("paperchat: interrupted; the store is as it was before this ingest", file=sys.stderr)
        return 130
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def cmd_search(args: argparse.Namespace) -> int:
    from app.display import readable

    pc = _paperchat(args)
    result = pc.search_result(args.question, k=args.k, where=_where_pairs(args.where))
    if args.json:
        print(json.dumps({
            "question": args.question,
            "searched": result.searched,
            "matched": result.matched,
            "filters": result.filters,
            "papers": [p.to_dict() for p in result.papers],
            "notices": result.debug.get("notices", []),
            "similar_to": result.similar_to.to_dict() if result.similar_to else None,
            "tally": result.tally,
        }, ensure_ascii=False, indent=2))
        return 0
    if result.tally:  # "How many orals are there?": a count of the catalogue, no papers searched for
        print(result.tally + _filters_note(result.filters))
        return 0
    print(f"{result.matched:,} of {result.searched:,} papers searched matched" + _filters_note(result.filters))
    for i, paper in enumerate(result.papers, start=1):
        print(f"{i:>3}. {readable(paper.citation)}  [{paper.score:.4f}]")
        print(f"     {', '.join(paper.authors[:6])}{' …' if len(paper.authors) > 6 else ''}")
    for notice in result.debug.get("notices", []):
        print(f"note: {notice}", file=sys.stderr)
    return 0


def _filters_note(filters: dict[str, Any]) -> str:
    return f" (filters: {', '.join(f'{k}={v}' for k, v in filters.items())})" if filters else ""


def cmd_ask(args: argparse.Namespace) -> int:
    from app.display import readable

    pc = _paperchat(args, llm=args.llm, llm_model=args.model)
    answer = pc.ask(args.question, where=_where_pairs(args.where))
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return 0
    print(readable(answer.text))  # "ε=8" rather than the listing's TeX; --json keeps the text as listed
    for notice in answer.notices:
        print(f"note: {notice}", file=sys.stderr)
    print(f"\n(answered by {answer.backend}{_filters_note(answer.filters)})")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    stats = _paperchat(args).stats()
    if args.json:
        print(json.dumps(stats, ensure_ascii=False, indent=2))
        return 0
    print(f"{stats['records']} papers in {stats['store']} (embedder {stats['embedder']})")
    print(f"  titles: {stats['with_title']} with, {stats['without_title']} without")
    print(f"  abstracts: {stats['with_abstract']} with, {stats['without_abstract']} without")
    print(f"  institutions: named for {stats['with_affiliations']} (ask \"Which papers are from MIT?\")"
          if stats["with_affiliations"] else "  institutions: none named in these listings")
    for key in ("by_venue", "by_status", "listings"):
        print(f"  {key.replace('_', ' ')}: " + ", ".join(f"{k}: {v}" for k, v in sorted(stats[key].items())))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from app.evaluate import format_report, run_eval

    pc = _paperchat(args, llm=args.llm, llm_model=args.model)
    report = run_eval(pc, args.questions, reference=args.reference)
    if args.report:
        with open(args.report, "w", encoding="utf-8") as handle:
            json.dump(report, handle, ensure_ascii=False, indent=2)
    print(json.dumps(report["summary"], indent=2) if args.json else format_report(report))
    return 0


CHAT_HELP = "Ask about the loaded papers. /sources: the last answer's papers, /reset: start over, /quit or Ctrl-D: leave."


def cmd_chat(args: argparse.Namespace) -> int:
    """The interactive session: stream each answer, keep the conversation for follow-ups."""
    pc = _paperchat(args, llm=args.llm, llm_model=args.model)
    pc.store()  # a missing store stops here with "No index at ...: run paperchat ingest ..."
    where = _where_pairs(args.where) or None
    turns: list = []
    print(CHAT_HELP)
    while True:
        try:
            message = input("\nyou> ").strip()
        except EOFError:
            print()
            return 0
        if message in ("/quit", "/exit"):
            return 0
        if message == "/reset":
            turns.clear()
            print("(conversation reset)")
        elif message == "/sources":
            _print_sources(turns[-1][1] if turns else None)
        elif message.startswith("/"):
            print(CHAT_HELP)
        elif message:
            try:
                answer = _stream_to_terminal(pc.stream_chat(message, turns, where=where))
            except KeyboardInterrupt:
                print("\n(answer interrupted)")
                continue
            standalone = answer.debug.get("standalone")
            if standalone and standalone != message:
                print(f"(read as: {standalone})")
            print(f"(answered by {answer.backend}{_filters_note(answer.filters)})")
            turns.append((message, answer))


def _stream_to_terminal(stream: Any) -> Any:
    """Print chunks as they come; if the final answer differs from what was shown, print it."""
    from app.papers import Answer

    shown, answer = "", None
    for item in stream:
        if isinstance(item, Answer):
            answer = item
        else:
            print(item, end="", flush=True)
            shown += item
    assert answer is not None
    if answer.text.startswith(shown):
        print(answer.text[len(shown) :])
    else:
        print("\n\n--- the answer above was replaced by: ---\n" + answer.text)
    for notice in answer.notices:
        print(f"note: {notice}", file=sys.stderr)
    return answer


def _print_sources(answer: Any) -> None:
    from app.chat import listed_numbers

    if answer is None or not answer.citations:
        print("(no papers cited yet)")
        return
    for number, paper in zip(listed_numbers(answer), answer.citations):
        print(f"[{number}] {paper.citation}\n    {', '.join(paper.authors) or 'unknown authors'}  {paper.venue_label}")
        if paper.url:
            print(f"    {paper.url}")
        if paper.evidence:
            print(f'    Evidence: "{paper.evidence}"')


def cmd_config(args: argparse.Namespace) -> int:
    from app.settings import load_settings

    settings = load_settings()
    values = settings.masked()
    if args.json:
        print(json.dumps(values, indent=2, default=str))
        return 0
    descriptions = settings.describe()
    for name, value in values.items():
        print(f"{name:16} = {value!s:30}  # PAPERCHAT_{name.upper()}: {descriptions[name]}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from app.serve import auth_from, serve

    auth = auth_from(args.auth)
    pc = _paperchat(args, llm=args.llm, llm_model=args.model)
    pc.store()  # a missing store stops here with "No index at ...: run paperchat ingest ..."
    serve(pc, host=args.host, port=args.port, auth=auth, share=args.share)
    return 0


COMMANDS = {
    "ingest": cmd_ingest,
    "search": cmd_search,
    "ask": cmd_ask,
    "chat": cmd_chat,
    "stats": cmd_stats,
    "eval": cmd_eval,
    "config": cmd_config,
    "serve": cmd_serve,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``paperchat`` console script."""
    args = build_parser().parse_args(argv)
    from app.errors import USER_ERRORS

    try:
        return COMMANDS[args.command](args)
    except USER_ERRORS as error:
        print(f"paperchat: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("paperchat: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
