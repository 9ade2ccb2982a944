"""Where a reader can check a cited paper: its own links, else searches labelled as such.

Only ``http``/``https`` URLs are ever emitted (:func:`safe_url`); ``javascript:``, ``data:``
and friends are dropped, not "fixed", so a hostile listing cannot plant a script link.

Conference listings often carry no URL (the bundled papers.cool and virtual-site copies have
none), yet a citation a reader cannot follow is one they cannot check. Every cited paper
therefore gets search links built from its own stored record: the title when there is one,
otherwise the opening words of its abstract and its first author. They are searches, never
a guessed "the paper is here" link, and the page says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote_plus, urlsplit

from app.display import readable
from app.papers import Paper

#: Link labels in the order cards show them; other keys of ``Paper.links`` follow.
LINK_ORDER: tuple[str, ...] = ("site", "pdf", "openreview", "code")
#: Words of an untitled paper's abstract put in the search phrase; enough to be unique.
OPENING_WORDS = 10


def safe_url(url: str | None) -> str | None:
    """The URL when it is an absolute http(s) link without control characters, else None.

    Browsers ignore tabs and newlines inside a scheme (``java\\nscript:``), so any control
    character or space disqualifies the URL rather than being stripped.
    """
    if not url or not isinstance(url, str):
        return None
    candidate = url.strip()
    if not candidate or any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in candidate):
        return None
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return candidate


def paper_links(paper: Paper) -> list[tuple[str, str]]:
    """(label, url) for every safe link the listing gave, each URL once, known labels first."""
    candidates: list[tuple[str, str | None]] = [("page", paper.url)]
    keys = [k for k in LINK_ORDER if k in paper.links] + sorted(k for k in paper.links if k not in LINK_ORDER)
    candidates += [(key, paper.links.get(key)) for key in keys]
    seen: set[str] = set()
    links: list[tuple[str, str]] = []
    for label, url in candidates:
        safe = safe_url(url)
        if safe and safe not in seen:
            seen.add(safe)
            links.append((label, safe))
    return links


def primary_url(paper: Paper) -> str | None:
    """The paper's own page, else its first safe link; never a search (exports use this)."""
    links = paper_links(paper)
    return links[0][1] if links else None


@dataclass(frozen=True)
class SearchLink:
    """A search for one paper on one site; ``label`` names the site, ``hint`` says by what."""

    label: str
    url: str
    hint: str


def search_terms(paper: Paper) -> tuple[str, str]:
    """(phrase, author): the title, or the abstract's opening words and the first author.

    The text is the readable form, so ``*ViP*: ...`` is searched as ``ViP: ...``.
    """
    author = paper.authors[0] if paper.authors else ""
    title = readable(paper.title).strip()
    if title:
        return title, ""
    words = readable(paper.abstract).split()[:OPENING_WORDS]
    return " ".join(words).rstrip(".,;:"), author


def search_links(paper: Paper) -> list[SearchLink]:
    """Google Scholar, arXiv and (for titled papers) OpenReview searches for ``paper``.

    Empty when the record has neither a title nor an abstract: there is nothing to search by.
    """
    phrase, author = search_terms(paper)
    if not phrase:
        return []
    if not author:
        hint = "by the title"
        scholar = f'"{phrase}"'
        links = [
            SearchLink("Google Scholar", "https://scholar.google.com/scholar?q=" + quote_plus(scholar), hint),
            SearchLink("arXiv", f"https://arxiv.org/search/?query={quote_plus(phrase)}&searchtype=title", hint),
            SearchLink(
                "OpenReview",
                f"https://openreview.net/search?term={quote_plus(phrase)}&group=all&content=all&source=all",
                hint,
            ),
        ]
        return links
    hint = "by the abstract's first words and the first author"
    scholar = f'"{phrase}" {author}'
    return [
        SearchLink("Google Scholar", "https://scholar.google.com/scholar?q=" + quote_plus(scholar), hint),
        SearchLink("arXiv", f"https://arxiv.org/search/?query={quote_plus(phrase)}&searchtype=abstract", hint),
    ]


def citation_target(paper: Paper) -> tuple[str, str] | None:
    """(url, tooltip) for a citation number: the paper's own link, else a Scholar search."""
    own = primary_url(paper)
    if own:
        return own, "Open the paper's page"
    searches = search_links(paper)
    if not searches:
        return None
    first = searches[0]
    return first.url, f"The listing gave no link: search {first.label} {first.hint}"
