"""Serve the chat page: loopback by default, a queue that keeps answering fair, optional login.

Kept apart from :mod:`app.ui` so building the page (tests, notebooks) never opens a port,
and so the exposure decisions (host, share link, auth, blocked paths) sit in one place.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from app.paperchat import PaperChat

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
#: Chat workers at once. Answers a language model writes also wait in their own lane
#: (``GENERATION_CONCURRENCY`` places), so long generations never hold every worker and
#: retrieval-only answers keep flowing on a 2-core machine.
CHAT_CONCURRENCY = 8
GENERATION_CONCURRENCY = 2
#: Requests waiting in the queue before new ones are refused with "queue full".
QUEUE_SIZE = 64
AUTH_ENV = "PAPERCHAT_AUTH"


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """'user:pass' -> ('user', 'pass'); the password may itself contain ':'."""
    if value is None or not value.strip():
        return None
    user, sep, password = value.strip().partition(":")
    if not sep or not user or not password:
        raise ValueError("auth must look like USER:PASSWORD (from --auth or PAPERCHAT_AUTH)")
    return user, password


def auth_from(flag: str | None) -> tuple[str, str] | None:
    """Login from the ``--auth`` flag, else from ``PAPERCHAT_AUTH``, else none."""
    return parse_auth(flag if flag is not None else os.environ.get(AUTH_ENV))


def serve(
    pc: PaperChat,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    auth: tuple[str, str] | None = None,
    share: bool = False,
    concurrency: int = CHAT_CONCURRENCY,
    block: bool = True,
    generation_concurrency: int = GENERATION_CONCURRENCY,
) -> Any:
    """Build the page over ``pc`` and serve it until interrupted; prints the URL.

    ``share`` is off unless asked for: a public gradio.live link would send every question
    through a third party. The store directory is blocked from Gradio's file routes.
    """
    from app.ui import build_demo, launch_style

    demo = build_demo(pc, chat_concurrency=concurrency, generation_concurrency=generation_concurrency)
    pc.query_engine  # build the backend now: a misconfiguration fails here, not on the first question
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=concurrency)
    blocked = [str(Path(pc.settings.data_dir).resolve())]
    _, local_url, share_url = demo.launch(
        server_name=host,
        server_port=port,
        auth=auth,
        auth_message="paperchat: log in with the user and password given to --auth / PAPERCHAT_AUTH" if auth else None,
        share=share,
        inbrowser=False,
        prevent_thread_lock=True,
        quiet=True,
        show_error=False,
        ssr_mode=False,
        blocked_paths=blocked,
        footer_links=["settings"],
        **launch_style(),
    )
    records = pc.stats()["records"]
    print(f"paperchat: serving {records} papers at {local_url}" + (" (login required)" if auth else ""), flush=True)
    if share_url:
        print(f"paperchat: public share link (anyone with it can ask): {share_url}", flush=True)
    print("paperchat: press Ctrl+C to stop", flush=True)
    if block:
        try:
            demo.block_thread()
        finally:
            demo.close(verbose=False)
    return demo
