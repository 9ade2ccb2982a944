"""Cut a record into passages that fit the embedder's window.

The encoder reads at most ``max_tokens`` tokens and silently drops the rest, so a long
abstract embedded whole would lose its ending. Instead it is split at sentence boundaries
into overlapping windows, and every window starts with the title: a passage about "the
method" is then still about *this paper's* method, both for the embedder and for a reader.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ingest.records import PaperRecord

#: Bump the scheme when the splitting logic changes, so stores built with the old one rebuild.
CHUNKING_SCHEME = "sent-v1"

#: Tokens kept free for the model's own [CLS]/[SEP] plus a little slack.
SPECIAL_TOKEN_MARGIN = 4


def chunking_version(max_tokens: int = 256, overlap_sentences: int = 1) -> str:
    """The string a store records, so chunks made with other parameters are not mixed in."""
    return f"{CHUNKING_SCHEME}:sentences:max{max_tokens}:overlap{overlap_sentences}"


CHUNKING_VERSION = chunking_version()

# A sentence ends at . ! or ? (optionally followed by closing quotes/brackets), then space,
# then something that can start a sentence. Decimals ("3.5") have no space, so never match.
_BOUNDARY = re.compile(r"[.!?][\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_ABBREVIATIONS = frozenset(
    "e.g. i.e. al. cf. vs. fig. figs. eq. eqs. sec. no. approx. resp. dr. mr. ms. prof. "
    "st. ref. refs. tab. ch. vol. pp. et.".split()
)


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences without breaking on "e.g.", "et al.", initials or decimals."""
    text = " ".join(text.split())
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        before = text[start : match.start() + 1].rsplit(" ", 1)[-1].lower()
        if before in _ABBREVIATIONS or re.fullmatch(r"\(?[a-z]\.", before):
            continue  # "et al. Smith", "J. Smith", "e.g. GPT-4"
        sentence = text[start : match.end()].strip()
        if sentence:
            sentences.append(sentence)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def _surely_fits(text: str, budget: int) -> bool:
    """True when ``text`` cannot exceed ``budget`` tokens, known without the tokenizer.

    No tokenizer makes more tokens of ASCII text than it has characters, plus one
    (WordPiece and byte-level BPE make at most one a character; SentencePiece may add a
    leading word marker). Most paperlists records are a title alone, and skipping their
    tokenizer call took a fifth of the overhead off ingesting the 2,610-record merge. Only
    ever a shortcut to the answer the tokenizer would give, so the chunks are the same.
    """
    return len(text) < budget and text.isascii()


def _fits(text: str, count_tokens: Callable[[str], int], budget: int) -> bool:
    return _surely_fits(text, budget) or count_tokens(text) <= budget


def _cut_to_fit(text: str, count_tokens: Callable[[str], int], budget: int) -> list[str]:
    """Cut one over-long piece at word boundaries (characters, for a monster word)."""
    if _fits(text, count_tokens, budget):  # nearly every sentence: one tokenizer call, not one a word
        return [" ".join(text.split())] if text.strip() else []
    pieces: list[str] = []
    current: list[str] = []
    for word in text.split():
        if count_tokens(word) > budget:
            if current:
                pieces.append(" ".join(current))
                current = []
            pieces.extend(_cut_word(word, count_tokens, budget))
            continue
        if current and count_tokens(" ".join([*current, word])) > budget:
            pieces.append(" ".join(current))
            current = []
        current.append(word)
    if current:
        pieces.append(" ".join(current))
    return pieces


def _cut_word(word: str, count_tokens: Callable[[str], int], budget: int) -> list[str]:
    pieces: list[str] = []
    while word:
        low, high = 1, len(word)  # longest prefix that fits, by bisection
        while low < high:
            mid = (low + high + 1) // 2
            if count_tokens(word[:mid]) <= budget:
                low = mid
            else:
                high = mid - 1
        pieces.append(word[:low])
        word = word[low:]
    return pieces


def _heading(record: PaperRecord) -> str:
    """What every chunk starts with: the title, or nothing when the title is unknown."""
    title = (record.title or "").strip()
    if not title:
        return ""
    return title if title[-1] in ".!?" else title + "."


def embedding_text_chunks(
    record: PaperRecord,
    count_tokens: Callable[[str], int],
    max_tokens: int = 256,
    overlap_sentences: int = 1,
) -> list[str]:
    """The passages to embed for ``record``: one if it fits, else overlapping windows.

    Text is ``"Title. Abstract"``. With no abstract the title alone is embedded, and with
    neither the authors, so an untitled, abstract-less listing entry is still findable.
    A record with nothing at all yields no chunks.
    """
    budget = max(8, max_tokens - SPECIAL_TOKEN_MARGIN)
    heading = _heading(record)
    abstract = " ".join((record.abstract or "").split())

    if not abstract:
        text = heading or ", ".join(a for a in record.authors if a.strip())
        return [" ".join(_cut_to_fit(text, count_tokens, budget)[:1])] if text else []

    # A title longer than half the window would crowd out the abstract: shorten it.
    if heading and not _fits(heading, count_tokens, budget // 2):
        heading = _cut_to_fit(heading, count_tokens, budget // 2)[0]
    whole = f"{heading} {abstract}".strip()
    if _fits(whole, count_tokens, budget):
        return [whole]

    room = budget - (count_tokens(heading) if heading else 0)
    sentences: list[str] = []
    for sentence in split_sentences(abstract):
        sentences.extend(_cut_to_fit(sentence, count_tokens, room))

    def window(start: int, end: int) -> str:
        return " ".join(filter(None, [heading, *sentences[start:end]]))

    heading_tokens = count_tokens(heading) if heading else 0
    sentence_tokens = [count_tokens(sentence) for sentence in sentences]

    def fill(start: int) -> int:
        """Index after the last sentence that still fits in a window starting at ``start``.

        Grows the window by the sentences' own token counts (tokenising each sentence once,
        not every candidate window: that was most of the chunking time), then checks the
        joined text itself, since a tokenizer need not be additive over spaces.
        """
        end, total = start + 1, heading_tokens + sentence_tokens[start]
        while end < len(sentences) and total + sentence_tokens[end] <= budget:
            total += sentence_tokens[end]
            end += 1
        while end > start + 1 and count_tokens(window(start, end)) > budget:
            end -= 1
        return end

    chunks: list[str] = []
    start = 0
    while True:
        end = fill(start)
        chunks.append(window(start, end))
        if end >= len(sentences):
            return chunks
        next_start = max(end - overlap_sentences, start + 1)
        if fill(next_start) <= end:  # the overlap leaves no room for anything new
            next_start = end
        start = next_start
