"""Pick the abstract sentence that best supports why a paper matched a question.

The extractive answer is only as convincing as its evidence, so the sentence is chosen by
the same stemmed terms keyword search used, each weighted by how rare it is: the sentence
that holds the question's most specific words wins. Ties go to the earlier sentence, which
in an abstract is usually the one that states the contribution.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from app.text import content_terms, split_sentences

#: Longest evidence shown; longer sentences are cut at a word boundary.
MAX_EVIDENCE_CHARS = 400


def best_sentence(
    abstract: str | None,
    question: str,
    idf: Callable[[str], float],
    terms: Collection[str] | None = None,
) -> str | None:
    """The abstract sentence with the most question-term weight, or the first one.

    ``terms`` are the question's terms as search read them (:attr:`SearchResult.terms`);
    without them, the question's own words.
    """
    if not abstract:
        return None
    sentences = split_sentences(abstract)
    if not sentences:
        return None
    terms = set(terms) if terms else set(content_terms(question))
    best, best_score = sentences[0], 0.0
    for sentence in sentences:
        overlap = terms & set(content_terms(sentence))
        score = sum(idf(t) for t in overlap)
        if score > best_score:
            best, best_score = sentence, score
    return clip(best)


def clip(sentence: str, limit: int = MAX_EVIDENCE_CHARS) -> str:
    """Cut a long sentence at a word boundary and mark the cut."""
    if len(sentence) <= limit:
        return sentence
    return sentence[:limit].rsplit(" ", 1)[0] + "…"
