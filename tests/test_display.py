"""Listing markup shown as readable text, and the searches offered for papers without links."""

from __future__ import annotations

import pytest

from app.display import listing_label, readable, untitled_label
from app.lookup import citation_target, search_links
from app.papers import Paper

VIP = (
    "we pretrain *ViP*---a **Vi**sion transformer with differential **P**rivacy---under a strict "
    "privacy budget of $\\epsilon=8$ on the LAION400M dataset."
)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (VIP, "we pretrain ViP—a Vision transformer with differential Privacy—under a strict privacy "
              "budget of ε=8 on the LAION400M dataset."),
        ("Hybrid$^2$ Neural ODE", "Hybrid² Neural ODE"),
        ("E$^2$LSH and $L^{1}$-norm", "E²LSH and L¹-norm"),
        ("with ${\\it RieM}$,", "with RieM,"),
        ("$\\tilde{O}(d^2\\log (1/\\epsilon))$", "Õ(d² log (1/ε))"),
        ("$O\\left(\\frac{\\log m}{\\epsilon^{2}}\\right)$", "O((log m)/ε²)"),
        ("$\\Omega(1/\\epsilon^2)$ and $\\epsilon\\ll\\frac{1}{n}$", "Ω(1/ε²) and ε≪1/n"),
        ("$x \\in \\mathcal{X}$, $\\ell_2$, $\\alpha_t$", "x ∈ X, ℓ₂, αₜ"),
        ("$f : 2^{V} \\to \\mathbb{R}^{\\ge 0}$", "f : 2^V → ℝ^(≥0)"),
        ("introduces \\emph{any-precision LLM}, with \\textbf{90.0\\%} top-1", "introduces any-precision LLM, with 90.0% top-1"),
        ("Polyak-{\\L}ojasiewicz", "Polyak-Łojasiewicz"),
        ("code at \\href{https://github.com/x/y}{this repo}.", "code at this repo (https://github.com/x/y)."),
        ("pipelines -- input tokens, pages 10--20", "pipelines – input tokens, pages 10–20"),
        ("a *ranking* of *causal loss* terms", "a ranking of causal loss terms"),
    ],
)
def test_listing_markup_reads_as_plain_text(raw: str, shown: str) -> None:
    assert readable(raw) == shown


@pytest.mark.parametrize(
    "text",
    [
        "For under $20 USD, or $5 million and $10 more",  # prices, not maths
        "snake_case and __init__ and 2*3*4",
        "DP-SGD with non-adaptively-collected data",
        "<img src=x onerror=alert(1)> [click](javascript:alert(1))",
    ],
)
def test_text_without_markup_is_left_alone(text: str) -> None:
    assert readable(text) == text


def test_escaped_dollars_are_dollars_and_none_is_empty() -> None:
    assert readable("under \\$2,000 and \\\\$20") == "under $2,000 and $20"
    assert readable(None) == "" and readable("") == ""


def test_readable_text_is_never_markup() -> None:
    hostile = "$<img src=x onerror=alert(1)>$ \\emph{<script>x</script>} **<b>**"
    shown = readable(hostile)
    assert "<img src=x onerror=alert(1)>" in shown and "<script>" in shown  # kept as text, escaped later


def test_hashed_listing_names_are_shortened() -> None:
    assert listing_label("001_49cbb665570d8f3c.txt") == "listing 001"
    assert listing_label("/data/listings/000_8bc7cccfbb1f2936.txt") == "listing 000"
    assert listing_label("orals.jsonl") == "orals.jsonl"
    assert untitled_label("We demonstrate a substantial gap between the privacy guarantees of the Adaptive Batch.") == (
        "Untitled: “We demonstrate a substantial gap between the privacy guarantees of…”"
    )
    assert untitled_label(None) == "Untitled"


def test_searches_use_the_readable_title_or_the_opening_words_and_first_author() -> None:
    titled = Paper("a", "*ViP*: A Private Model", ["Yaodong Yu"], "x", None, None, None, None)
    links = search_links(titled)
    assert [s.label for s in links] == ["Google Scholar", "arXiv", "OpenReview"]
    assert links[0].url == "https://scholar.google.com/scholar?q=%22ViP%3A+A+Private+Model%22"
    assert all(s.hint == "by the title" for s in links)

    untitled = Paper("b", None, ["Lynn Chua", "Badih Ghazi"], "We demonstrate a substantial gap between the "
                     "privacy guarantees of the Adaptive Batch Linear Queries mechanism.", None, None, None, None)
    scholar = search_links(untitled)[0]
    assert scholar.url.endswith("%22We+demonstrate+a+substantial+gap+between+the+privacy+guarantees+of%22+Lynn+Chua")
    assert search_links(Paper("c", None, ["A B"], None, None, None, None, None)) == []


def test_a_citation_links_to_the_paper_itself_when_the_listing_has_a_link() -> None:
    own = Paper("a", "T", ["A B"], "x", None, None, None, "https://icml.cc/virtual/2024/oral/1")
    assert citation_target(own) == ("https://icml.cc/virtual/2024/oral/1", "Open the paper's page")
    hostile = Paper("b", "T", ["A B"], "x", None, None, None, "javascript:alert(1)")
    url, tip = citation_target(hostile)
    assert url.startswith("https://scholar.google.com/") and tip.startswith("The listing gave no link")
