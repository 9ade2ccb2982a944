"""Questions that leave something out: "orals about LLMs but not about agents".

Retrieval reads every word as something wanted, so "but not about agents" made the agent
papers rank first. The excluded part is cut from the text that is searched and answered
on its own, as "Which papers are about agents?" would be; the papers that answer it are
left out of the answer, and the answer says how many. Only explicit cues count ("but not",
"excluding", "except", "other than", "not about"): "learning without labels" and "models
that do not need retraining" are topics, not exclusions.
"""

from __future__ import annotations

import re

from app.text import counted, without_spans

_CUE = (
    r"(?:,?\s*\b(?:but|and)\s+not\s+(?:(?:about|on|related to|involving|using)\s+)?"
    r"|,?\s*\b(?:excluding|except(?:\s+for)?(?:\s+(?:those|ones|papers|the ones)\s+(?:about|on))?"
    r"|other than|apart from|aside from|leaving out|but no)\s+"
    r"|\b(?:that\s+|which\s+)?(?:are|is)\s*(?:not|n't)\s+(?:about|on|related to)\s+"
    r"|\bnot\s+(?:about|on|related to)\s+)"
)
_EXCLUSION = re.compile(_CUE + r"(?P<excluded>[^,;?!.]+?)\s*(?=[,;?!.]|$)", re.IGNORECASE)


def read_exclusion(question: str) -> tuple[str | None, str]:
    """What the question leaves out, and the question without it.

    >>> read_exclusion("Which orals are about LLMs but not about agents?")
    ('agents', 'Which orals are about LLMs?')
    """
    match = _EXCLUSION.search(question)
    if not match:
        return None, question
    excluded = match.group("excluded").strip()
    excluded = re.sub(r"^(?:the\s+)?(?:ones|papers|orals|those)\s+(?:about|on)\s+", "", excluded, flags=re.IGNORECASE)
    if not re.search(r"\w", excluded):
        return None, question
    return excluded, without_spans(question, [match.span()])


def about(phrase: str) -> str:
    """The question whose answer is what gets left out."""
    return f"Which papers are about {phrase}?"


def exclusion_note(phrase: str, left_out: int) -> str:
    """What the answer says about the papers it left out."""
    if not left_out:
        return f"Nothing was left out: no paper among those found is about “{phrase}”."
    return f"Left out {counted(left_out)} about “{phrase}”, as `paperchat search \"{about(phrase)}\"` lists them."
