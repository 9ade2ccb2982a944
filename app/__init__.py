"""paperchat: ask questions about conference paper listings, answered with citations.

The Python API is :class:`PaperChat`; ``Paper`` and ``Answer`` are what it returns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.paperchat import PaperChat
    from app.papers import Answer, Paper

__all__ = ["Answer", "Paper", "PaperChat"]


def __getattr__(name: str) -> Any:
    """Import lazily, so ``import app`` (and ``paperchat --help``) stays fast."""
    if name == "PaperChat":
        from app.paperchat import PaperChat

        return PaperChat
    if name in ("Paper", "Answer"):
        from app import papers

        return getattr(papers, name)
    raise AttributeError(name)
