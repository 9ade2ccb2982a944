"""The answer backend that needs no language model: cited evidence, straight from abstracts.

It is the floor that never fails: every other backend falls back to it, and with no model
configured it is what answers. Everything it writes comes from stored records.
"""

from __future__ import annotations

from app.affiliations import affiliation_evidence, asks_for_joint_work, narrowing_note
from app.author_count import author_list_evidence
from app.authors import author_evidence, author_names, wants_shared_papers
from app.evidence import best_sentence
from app.papers import NEAREST_HEADING, NO_ANSWER, Answer, Paper, short_authors
from app.search import SearchResult
from app.text import counted
from app.themes import cited_line
from prompts import render

NAME = "extractive"


def matched_line(result: SearchResult) -> str:
    """'3 of 144 papers searched matched.' — shown with every list answer."""
    line = f"{result.matched:,} of {counted(result.searched)} searched matched."
    if result.themes:
        line = cited_line(len(result.papers))
    if result.prolific:
        line = f"{result.prolific} {line}"
    if result.affiliations and not result.counted_institutions:  # the count line named them
        joint = asks_for_joint_work(result.question, result.affiliations)
        line += f" Only {narrowing_note(result.affiliations, joint=joint)} were considered."
    if result.author_topic:
        joint = wants_shared_papers(result.question, result.authors)
        line += f" Only papers by {author_names(result.authors, joint=joint)} were considered."
    if result.author_count is not None:
        line += f" Only papers with {result.author_count.describe()} were considered."
    if result.title_phrase:
        line += f" Only papers with “{result.title_phrase}” in the title were considered."
    return line


def attach_evidence(result: SearchResult, idf) -> list[Paper]:
    """Give each kept paper the abstract sentence that best supports it. A question that
    only names authors or an institution is answered by the author list, so the evidence is
    the named authors (where the citation's "et al." may hide them) or their institutions;
    so is a paper without an abstract. A question about how many authors a paper has is
    answered by the count and the names, and a who-wrote question by every name."""
    authors_only = bool(result.authors) and not result.author_topic
    for paper in result.papers:
        evidence = None
        if result.intent.author_count_only:
            evidence = author_list_evidence(paper.authors)
        elif result.intent.wants_authors:
            evidence = author_list_evidence(paper.authors, limit=None)
        elif not result.intent.institution_only and not authors_only:
            terms = result.evidence_terms.get(paper.id, result.terms)
            evidence = best_sentence(paper.abstract, result.question, idf, terms)
        if evidence is None and result.authors:
            evidence = author_evidence(paper.authors, result.authors)
        if evidence is None and result.affiliations:
            evidence = affiliation_evidence(paper.affiliations, paper.domains, result.affiliations)
        paper.evidence = evidence
    return result.papers


def _count_is_the_answer(result: SearchResult) -> bool:
    """The question asked for an author count and nothing else to search for ("Which
    DeepMind papers have a single author?"), so no match means no paper has that count."""
    return result.intent.structural or (bool(result.authors) and not result.author_topic)


def format_item(number: int, paper: Paper) -> str:
    """One numbered citation line with its evidence.

    An untitled paper's citation already names its authors, so they are not repeated.
    """
    line = f"[{number}] {paper_line(paper)}"
    if paper.evidence:
        line += f'\n    Evidence: "{paper.evidence}"'
    return line


def nearest_line(paper: Paper) -> str:
    """One closest-but-not-matching paper: a dash, not a [n], since it is not a citation."""
    return f"- {paper_line(paper)}"


def paper_line(paper: Paper) -> str:
    """'Title — A, B, C et al. (ICML 2024 Oral)'; an untitled citation already names its authors."""
    venue = paper.venue_label
    line = paper.citation
    if paper.title:
        line += f" — {short_authors(paper.authors, limit=3)}"
    return line + (f" ({venue})" if venue else "")


class ExtractiveBackend:
    """Lists every kept paper with its best evidence sentence."""

    name = NAME

    def answer(self, result: SearchResult, idf) -> Answer:
        papers = attach_evidence(result, idf)
        if result.tally:  # a count of the catalogue: nothing was searched, nothing to cite
            text = result.tally
        elif not papers:
            text = f"{NO_ANSWER} ({counted(result.searched)} searched.)"
            if result.author_count is not None and _count_is_the_answer(result):
                has = result.author_count.describe()
                text = f"{NO_ANSWER} None of the papers considered has {has}. ({counted(result.searched)} searched.)"
            for paper in result.nearest:
                paper.evidence = best_sentence(paper.abstract, result.question, idf, result.terms)
            if result.nearest:
                text += "\n\n" + "\n".join([NEAREST_HEADING, *(nearest_line(p) for p in result.nearest)])
        else:
            items = "\n".join(format_item(i, p) for i, p in enumerate(papers, start=1))
            text = render("extractive", matched_line=matched_line(result), items=items).strip()
        return Answer(
            text=text,
            citations=papers,
            backend=self.name,
            searched=result.searched,
            matched=result.matched,
            filters=dict(result.filters),
            nearest=list(result.nearest),
        )
