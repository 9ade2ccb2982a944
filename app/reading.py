"""What a question names, read before any search runs, and the text left to search.

A question carries more than a topic: institutions and authors to narrow to, an author
count, a word wanted in titles, "position papers", something to leave out, a paper to find
neighbours of, "who wrote". Each is read by its own module and cut from the text the
retrieval legs search, so "Which orals with more than 20 authors study LLMs?" searches for
LLMs among the papers with more than 20 authors, not for "20".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from app.affiliations import AffiliationIndex, AffiliationMatch, names_only, without_mentions
from app.author_count import read_author_count
from app.authors import (
    AuthorIndex,
    AuthorMatch,
    names_a_topic,
    unknown_person,
    without_names,
    without_names_within,
)
from app.exclusion import read_exclusion
from app.position_papers import asks_for_position_papers
from app.prolific import ProlificAsk, read_prolific
from app.question import (
    QuestionIntent, read_intent, requested_count, without_author_ask, without_requested_count, without_venue_year,
    ranking_terms_only,
)  # fmt: skip
from app.similar import SimilarRequest, TitleIndex
from app.tally import Tally, read_tally
from app.themes import read_themes
from app.text import content_terms
from app.title_words import read_title_phrase
from ingest.records import PaperRecord


@dataclass
class ReadQuestion:
    """A question taken apart before searching: the text left to search and what it named."""

    #: What the legs search: the question without the institutions, authors (beside a topic)
    #: and count it named; for "papers like X", X's title and abstract.
    topic: str
    intent: QuestionIntent
    institutions: list[AffiliationMatch]
    authors: list[AuthorMatch]
    #: The question names authors and a topic: their papers are searched for it.
    author_topic: bool
    #: The paper a "papers like X" question named.
    reference: SimilarRequest | None
    #: Something is left to search for once the names and counts are taken out.
    has_topic: bool = True
    #: The question asks for position papers (:mod:`app.position_papers`).
    position: bool = False
    #: The word or phrase the question wants in titles (:mod:`app.title_words`).
    title_phrase: str | None = None
    #: What the question leaves out ("but not about agents": :mod:`app.exclusion`).
    excluded: str | None = None
    #: "Which authors have the most orals?" (:mod:`app.prolific`).
    prolific: ProlificAsk | None = None
    #: "How many orals are there?": what is counted (:mod:`app.tally`); no search runs.
    tally: Tally | None = None
    #: "What topics are most common?" (:mod:`app.themes`).
    themes: bool = False
    #: The terms of each cited paper's theme, set by the searcher: its evidence sentence is
    #: the one naming the theme, not the question's words.
    theme_terms: dict[str, frozenset[str]] = field(default_factory=dict)
    #: The person the question says wrote the papers, when no author has that name.
    unknown_author: str | None = None

    @property
    def counts_authors(self) -> bool:
        """"Which authors have the most orals?"."""
        return self.prolific is not None and self.prolific.of == "authors"

    @property
    def counts_institutions(self) -> bool:
        """"Which institutions have the most orals?"."""
        return self.prolific is not None and self.prolific.of == "institutions"

    @property
    def names_nothing(self) -> bool:
        """"Which papers are at ICML 2024?", "What is the best paper?": no topic, name, paper
        or count to search by, only words every paper fits; searched anyway, the embedding
        picked whichever abstract sat nearest to "paper"."""
        named = (self.institutions or self.authors or self.reference or self.position or self.title_phrase
                 or self.excluded or self.prolific or self.tally or self.themes)  # fmt: skip
        terms = set(content_terms(self.topic))
        return not named and not self.intent.structural and (not terms or ranking_terms_only(terms))



class QuestionReader:
    """Reads questions against one store's names: its authors, institutions and titles."""

    def __init__(
        self,
        authors: AuthorIndex,
        affiliations: AffiliationIndex,
        titles: TitleIndex,
        by_id: Mapping[str, PaperRecord],
        facets: tuple[set[str], set[int], set[str]],
    ) -> None:
        self.authors = authors
        self.affiliations = affiliations
        self.titles = titles
        self.by_id = by_id
        self.venues, self.years, self.statuses = facets

    def read(self, question: str) -> ReadQuestion:
        """What the question names (institutions, authors, a paper) and what is left to search."""
        themes, question = read_themes(question)
        excluded, question = read_exclusion(question)
        prolific, question = read_prolific(question)
        institutions = self.affiliations.find(question)
        topic = without_mentions(question, institutions) if institutions else question
        topic = without_requested_count(topic)
        count, topic = read_author_count(topic)
        position, rest = asks_for_position_papers(topic)
        title_phrase, rest = read_title_phrase(rest)
        named = self.authors.find(rest)
        unknown_author = unknown_person(rest, self.authors)
        if unknown_author:  # "papers by John Smith": not the papers of every author named Smith
            named = without_names_within(named, rest, unknown_author)
        if named:
            unknown_author = None
        has_topic = names_a_topic(without_names(rest, named) if named else rest)
        if has_topic:  # "position papers on X": X among them; else the words help find them
            topic = rest
        author_topic = bool(named) and has_topic
        if author_topic:  # "papers by Yoshua Bengio about causality": search his papers for it
            topic = without_names(topic, named)
        intent = read_intent(topic, self.venues, self.years, self.statuses)
        topic = intent.text = without_venue_year(topic, self.venues, self.years) or topic
        if intent.wants_authors:  # "Who wrote Genie?": search for Genie
            topic = without_author_ask(topic)
            intent.text = topic
        intent.institution_only = bool(institutions) and names_only(rest)
        intent.author_count = count
        intent.author_count_only = count is not None and not has_topic and not named and not institutions
        intent.title_only = title_phrase is not None and not has_topic and not named and not institutions
        intent.exclusion_only = (  # "Which orals are not about LLMs?": all of them but those
            excluded is not None and not has_topic and not named and not position and not intent.structural
        )
        intent.requested = requested_count(question)
        reference = None if named else self.titles.find(topic)
        if reference:  # "papers like ViP": ViP's own title and abstract are the query
            like = self.by_id[reference.paper_id]
            intent.wants_list, intent.text = True, like.title or topic
            topic = f"{like.title}. {like.abstract or ''}"
        names_anything = named or institutions or count or position or title_phrase or excluded or prolific or reference
        return ReadQuestion(
            topic, intent, institutions, named, author_topic, reference, has_topic, position, title_phrase, excluded,
            prolific=None if named else prolific,
            tally=None if names_anything or themes else read_tally(question, self.venues, self.years),
            themes=themes,
            unknown_author=unknown_author,
        )
