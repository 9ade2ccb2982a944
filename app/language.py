"""Tell a question written in another language from an English one, cheaply and offline.

The listings, the embedder and the BM25 index are English: "Welche Vorträge behandeln
differentielle Privatsphäre?" matches almost nothing and is declined, and a user who reads
only "none of the papers answer this" concludes the papers are not there. A question in a
Latin-script language other than English is recognised by its function words, the short
words every sentence of a language needs ("welche", "und", "les", "qué"), which a
question's technical terms do not share. Only words no English question uses count, so a
title quoted in an English question ("Les Houches lectures") does not trip it.
"""

from __future__ import annotations

import re

#: Function words of German, French, Spanish, Italian and Portuguese that are not English words.
OTHER_FUNCTION_WORDS: frozenset[str] = frozenset(
    # German
    "welche welcher welches wer wie was warum der die das den dem des und oder über für mit "
    "von zu zum zur ist sind hat haben wird werden nicht ein eine einen einem einer sich auch "
    "auf bei nach aus wurden vorträge arbeiten beiträge untersuchen behandeln"
    # French
    " quels quelles quel quelle qui que quoi les des du et ou sur avec pour dans est sont une "
    "aux ces leur leurs parmi étudient traitent articles exposés"
    # Spanish
    " cuáles cuál qué quién quiénes los las del y sobre con para en es son una unos unas "
    "estudian tratan artículos ponencias"
    # Italian
    " quali quale chi gli della delle dei degli sulla sul nel nella sono studiano trattano "
    # Portuguese
    " quais quem dos das com são uma estudam tratam artigos".split()
)
#: English function words: a question holding more of these than of the others is English.
ENGLISH_FUNCTION_WORDS: frozenset[str] = frozenset(
    "which what who whose how why the a an of and or on in for with by to from about is are "
    "was were that this these those do does did any all papers orals talks study studies".split()
)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def looks_like_other_language(text: str) -> bool:
    """True when the question reads as German, French, Spanish, Italian or Portuguese.

    Two such function words, and more of them than English ones: one alone could be a name
    or a quoted title, and an English question with a quoted foreign title still has more
    English function words than foreign ones.
    """
    words = [w.lower() for w in _WORD.findall(text)]
    other = sum(1 for w in words if w in OTHER_FUNCTION_WORDS)
    english = sum(1 for w in words if w in ENGLISH_FUNCTION_WORDS)
    return other >= 2 and other > english
