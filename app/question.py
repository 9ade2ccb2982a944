"""What a question asks for, read from its wording before any search runs.

Three things change how retrieval behaves: metadata the question implies ("orals",
"ICML 2024"), whether it wants a list or one paper ("Which orals..." vs "Which oral..."),
and structural asks that no text search can answer ("written by a single author", read by
:mod:`app.author_count`).
Author names are matched separately (see :mod:`app.authors`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.author_count import AuthorCount
from app.language import looks_like_other_language
from app.text import content_terms

_STATUS_WORDS: dict[str, str] = {
    "oral": "Oral",
    "orals": "Oral",
    # At a conference the talks are the orals; spotlights and posters are presented at posters.
    "talk": "Oral",
    "talks": "Oral",
    "spotlight": "Spotlight",
    "spotlights": "Spotlight",
    "poster": "Poster",
    "posters": "Poster",
}
_VENUE_YEAR = re.compile(r"\b([A-Za-z]{3,8})[\s'.-]*((?:19|20)\d\d)\b")
_YEAR = re.compile(r"\b((?:19|20)\d\d)\b")
_LIST_CUES = re.compile(
    r"\b(which|what)\s+(orals|papers|talks|works|posters|spotlights|articles|publications)\b"
    r"|\b(list|all|every|any)\b.*\b(orals|papers|talks|works|posters|spotlights)\b"
    r"|\bhow many\b(?!\s+(?:co-?)?authors\s+(?:does|did|has|had)\b)"
    r"|^\s*(what|who)\s+(are|were)\b.*\b(orals|papers|talks|works|posters|spotlights|articles|publications)\b",
    re.IGNORECASE,
)
_SINGLE_CUES = re.compile(
    r"\b(which|what)\s+(oral|paper|talk|work|poster|spotlight|article)\b(?!s)"
    r"|^\s*(what|who)\s+(is|are|was|does|do)\b"
    r"|\bwho\s+wrote\s+the\s+(?!(?:orals|papers|talks|works|posters|spotlights)\b)"
    r"|^\s*who\s+(?:wrote|authored|co-?authored)\b(?!.*\b(?:orals|papers|talks|works|posters|spotlights)\b)"
    r"|\bthe\s+(oral|paper|talk)\s+(that|which|where|whose|on|about)\b"
    r"|\bthe\s+(?:[\w$.'-]+\s+){1,3}?(?:oral|paper|talk|article)\b(?!s)"  # "Explain the XRM paper"
    r"|\bhow\s+many\s+(?:co-?)?authors\s+(?:does|did|has|had)\b",
    re.IGNORECASE,
)
_LEAD_IN = re.compile(
    r"^\s*(?:which|what)\s+(?:orals?|papers?|talks?|works?|posters?|spotlights?)\s+"
    r"(?:(?:are|is|was|were|do|does|did)\s+)?(?:(?:about|on)\s+)?",
    re.IGNORECASE,
)


#: "Who wrote Genie?", "Who are the authors of ViP?", "List the authors of XRM": the answer is
#: the author list, so that is the evidence, not an abstract sentence.
_ASKS_FOR_AUTHORS = re.compile(
    r"^\s*(?:who\s+(?:wrote|authored|co-?authored|is\s+behind|are\s+behind|was\s+behind)\b"
    r"|(?:who|what)\s+(?:are|were|is|was)\s+the\s+(?:co-?)?authors?\s+of\b"
    r"|(?:list|name|give\s+me|show\s+me)\s+the\s+(?:co-?)?authors\s+of\b"
    r"|(?:the\s+)?(?:co-?)?authors\s+of\b)"
    r"|\bhow\s+many\s+(?:co-?)?authors\s+(?:does|did|do|has|have|had)\b",
    re.IGNORECASE,
)

_NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
                 "twelve": 12, "fifteen": 15, "twenty": 20}
#: "give me 3 papers on ...", "the top five orals about ...", "which 2 orals ...": the
#: question asks for that many of the matching papers, the best first.
_REQUESTED_COUNT = re.compile(
    r"\b(?:top\s+)?(\d{1,2}|" + "|".join(_NUMBER_WORDS) + r")\s+"
    r"(?:(?:good|great|best|top|key|main|recent|relevant|interesting|important|notable|similar|related)\s+)?"
    r"(?:orals|papers|talks|posters|spotlights|works|articles|publications)\b",
    re.IGNORECASE,
)


def asks_for_authors(question: str) -> bool:
    """"Who wrote Genie?", "How many authors does ViP have?": the answer is an author list."""
    return bool(_ASKS_FOR_AUTHORS.search(question))


def without_author_ask(question: str) -> str:
    """The question without its "Who wrote" / "How many authors does": what is left names
    the paper or the topic, and "authors" is no search term ("Who wrote the orals on world
    models?" -> "the orals on world models?")."""
    if not asks_for_authors(question):
        return question
    rest = _ASKS_FOR_AUTHORS.sub(" ", question, count=1)
    rest = re.sub(r"\s+(?:have|has|had)\s*([?.!]*)\s*$", r"\1", rest) if re.search(r"\bhow\s+many\b", question, re.I) else rest
    return rest.strip() or question


def requested_count(question: str) -> int | None:
    """How many papers the question asks for ("give me 3 papers on X": 3), or None."""
    if re.search(r"\bhow many\b", question, re.IGNORECASE):
        return None
    match = _REQUESTED_COUNT.search(question)
    if not match:
        return None
    word = match.group(1).lower()
    count = int(word) if word.isdigit() else _NUMBER_WORDS[word]
    return count if count >= 1 else None


def without_requested_count(question: str) -> str:
    """The question with its count cut ("the top five orals on X" -> "the orals on X"): the
    count is an instruction, and as a search term "five" would find papers about five things."""
    if requested_count(question) is None:
        return question
    return _REQUESTED_COUNT.sub(lambda m: m.group(0).split()[-1], question, count=1)


@dataclass
class QuestionIntent:
    """The parts of a question that steer retrieval rather than describe a topic."""

    text: str
    wants_list: bool
    implied_filters: dict[str, str | int] = field(default_factory=dict)
    #: The author count the question asks about ("more than 20 authors", "a single author").
    author_count: AuthorCount | None = None
    #: ... and it names no topic: every paper with that count answers (set by the searcher,
    #: which takes the count out of the text it searches).
    author_count_only: bool = False
    #: The question asks for a word in titles and names no topic: every such title answers.
    title_only: bool = False
    #: The question only leaves something out ("Which orals are not about LLMs?").
    exclusion_only: bool = False
    #: The question names an institution and no topic ("Which papers are from MIT?"):
    #: every paper of it answers (set by the searcher, which knows the institutions).
    institution_only: bool = False
    #: How many papers the question asks for ("give me 3 papers on X"); None: all that match.
    requested: int | None = None
    #: The question asks who wrote a paper: each paper's evidence is its author list.
    wants_authors: bool = False

    @property
    def single_author_only(self) -> bool:
        """"Which orals have a single author?": answered from the authors field alone."""
        count = self.author_count
        return self.author_count_only and count is not None and count.least == count.most == 1

    @property
    def structural(self) -> bool:
        """Answered by which papers fit, not by how well they match a topic."""
        return self.author_count_only or self.institution_only or self.title_only or self.exclusion_only


def implied_filters(
    question: str, venues: set[str], years: set[int], statuses: set[str]
) -> dict[str, str | int]:
    """Metadata filters the wording implies, kept only where the store has a choice to make.

    "orals" narrows a store holding orals and posters; in a store of only orals it is a no-op
    and is not reported, so the user is not shown a filter that changes nothing.
    """
    found: dict[str, str | int] = {}
    lowered = question.lower()
    if len(statuses) > 1:
        for word in re.findall(r"[a-z]+", lowered):
            status = _STATUS_WORDS.get(word)
            if status and status in statuses:
                found["status"] = status
                break
    venue_by_fold = {v.lower(): v for v in venues}
    for match in _VENUE_YEAR.finditer(question):
        venue = venue_by_fold.get(match.group(1).lower())
        if venue and len(venues) > 1:
            found["venue"] = venue
        year = int(match.group(2))
        if venue and year in years and len(years) > 1:
            found["year"] = year
    if "year" not in found and len(years) > 1:
        mentioned = [int(y) for y in _YEAR.findall(question) if int(y) in years]
        if len(mentioned) == 1:
            found["year"] = mentioned[0]
    if "venue" not in found and len(venues) > 1:
        for word in re.findall(r"[A-Za-z]+", question):
            venue = venue_by_fold.get(word.lower())
            if venue:
                found["venue"] = venue
                break
    return found


def without_venue_year(question: str, venues: set[str], years: set[int]) -> str:
    """The question without the venue and year it names ("at ICML 2024"): they say which
    papers to search (:func:`implied_filters`), not what the papers are about. Searched as
    words, "2024" matched the abstracts that mention the year and made a question with no
    topic ("What is the best paper at ICML 2024?") answer with one of them."""
    folded = {v.lower() for v in venues}
    text = _VENUE_YEAR.sub(
        lambda m: " " if m.group(1).lower() in folded and int(m.group(2)) in years else m.group(0), question
    )
    return re.sub(r"\s{2,}", " ", _YEAR.sub(lambda m: " " if int(m.group(1)) in years else m.group(0), text)).strip()


def topic_text(question: str) -> str:
    """The question without its "Which orals are about" lead-in, for the embedder.

    A small embedding model spends part of a short query's vector on the lead-in, which every
    question shares; without it, dense similarity reflects the topic alone (measured: nDCG@10
    up on every question set, most on paraphrases).
    """
    stripped = _LEAD_IN.sub("", question).strip()
    return stripped or question


def read_intent(question: str, venues: set[str], years: set[int], statuses: set[str]) -> QuestionIntent:
    """Classify a question: list or single paper, implied filters, structural asks."""
    single = bool(_SINGLE_CUES.search(question))
    listy = bool(_LIST_CUES.search(question))
    return QuestionIntent(
        text=question,
        wants_list=listy or not single,
        implied_filters=implied_filters(question, venues, years, statuses),
        requested=requested_count(question),
        wants_authors=asks_for_authors(question),
    )


# -- the question as asked ------------------------------------------------------------------

#: Longest question used as typed. A pasted abstract ("papers like this: ...") is about 1,500
#: characters; anything longer is cut here, with a notice, so a pasted page or a runaway
#: script never reaches a model (or the prompt budget) whole.
MAX_QUESTION_CHARS = 2000
EMPTY_NOTICE = (
    "The question is empty: ask about a topic, an author or a paper, e.g. "
    "“Which orals study DP-SGD?”."
)
NO_WORDS_NOTICE = (
    "The question has no words to search for (only symbols or emoji): ask about a topic, "
    "an author or a paper, e.g. “Which orals study DP-SGD?”."
)
#: Words of a question asking which papers are best: the listings hold no such judgement.
_RANKING = re.compile(r"\b(?:best|award(?:s|ed)?|award-winning|won|winning|winners?|outstanding|prizes?)\b", re.IGNORECASE)


#: The same words as content terms ("best" is a stopword: it never reaches them).
_RANKING_TERMS = frozenset(content_terms("award awards awarded award-winning won winning winner winners outstanding prize prizes"))


def ranking_terms_only(terms: set[str]) -> bool:
    """Whether a question's content terms only ask for the best papers ("award-winning"): a
    judgement no listing holds, so they leave nothing to search for."""
    return bool(terms) and terms <= _RANKING_TERMS


def no_topic_notice(question: str, searched: int) -> str:
    """What to tell a user whose question names nothing to search for (every paper fits)."""
    lead = ("The listings do not say which papers are best or won awards, and the question names no topic"
            if _RANKING.search(question) else "The question names no topic")  # fmt: skip
    return (f"{lead}, author or paper to search for: all {searched:,} papers searched fit it. Ask about one, "
            "e.g. “Which orals study DP-SGD?”, or “How many orals are there?” for a count.")  # fmt: skip


NOT_ENGLISH_NOTICE = (
    "The loaded listings are in English and this question has no English words: "
    "asking in English (or with the English term, e.g. “DP-SGD”) finds more."
)
OTHER_LANGUAGE_NOTICE = (
    "The loaded listings are in English and this question seems to be in another language: "
    "asking in English (or with the English terms, e.g. “DP-SGD”) finds more."
)


def prepare_question(question: str | None) -> tuple[str, list[str]]:
    """The question to search and answer with, and notices telling the user what was done.

    Over-long questions are cut at a word boundary before :data:`MAX_QUESTION_CHARS`; empty,
    symbol-only and non-English questions are still answered (the answer says nothing
    matched) but carry a notice saying how to ask instead, so the user is not left with
    "no papers answer this" alone.
    """
    text = (question or "").strip()
    notices: list[str] = []
    if len(text) > MAX_QUESTION_CHARS:
        cut = text[:MAX_QUESTION_CHARS]
        space = cut.rfind(" ")
        if space > MAX_QUESTION_CHARS * 0.8:
            cut = cut[:space]
        notices.append(
            f"The question is {len(text):,} characters long; only its first {len(cut):,} were used."
        )
        text = cut.rstrip()
    if not text:
        notices.append(EMPTY_NOTICE)
    elif not any(ch.isalnum() for ch in text):
        notices.append(NO_WORDS_NOTICE)
    elif not re.search(r"[A-Za-z0-9]", text):
        notices.append(NOT_ENGLISH_NOTICE)
    elif looks_like_other_language(text):
        notices.append(OTHER_LANGUAGE_NOTICE)
    return text, notices
