"""One settings object for the whole application.

Every field can be set from the environment (prefix ``PAPERCHAT_``) and most from a CLI
flag; standard names are honoured where they exist (``OPENAI_API_KEY``,
``OPENAI_BASE_URL``). ``paperchat config`` prints the effective values with secrets masked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.relevance import RelevancePolicy

#: Bundled demo corpus, relative to the repository root (used by ``make run``).
BUNDLED_LISTINGS = Path(__file__).resolve().parent.parent / "data" / "listings"


class Settings(BaseSettings):
    """Effective configuration: defaults < environment < explicit arguments."""

    model_config = SettingsConfigDict(env_prefix="PAPERCHAT_", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(
        Path(".paperchat"),
        description="Directory holding the Chroma store and caches (embedded mode).",
    )
    chroma_url: str | None = Field(
        None,
        description="URL of a Chroma server (e.g. http://127.0.0.1:8000); embedded store when unset.",
    )
    collection: str = Field("papers", description="Chroma collection name.")
    chroma_timeout: float = Field(
        60.0, gt=0, description="Seconds one request to the Chroma server may take before it counts as unreachable."
    )
    embedder: str = Field(
        "minilm-l6-int8",
        description="Embedding model: minilm-l6-int8 (packaged), hashing-384, or onnx:/dir/with/model.onnx.",
    )
    embed_threads: int | None = Field(None, description="Threads for the embedder (default: all cores).")
    search_ef: int = Field(128, description="HNSW search breadth; higher is slower and more exact.")
    answerable_similarity: float | None = Field(
        None, gt=0, lt=1,
        description="Dense similarity the best paper needs for a question whose words the listings mostly "
        f"lack to be answered rather than declined (default {RelevancePolicy.answerable_dense}, measured for the packaged MiniLM: "
        "recalibrate with `paperchat eval` when using another embedder).",
    )
    max_listing_mb: int = Field(
        64, ge=1, description="Largest listing file ingest reads, in MB; bigger files are refused."
    )
    llm: str = Field(
        "auto",
        description="Answer backend: auto, openai, openai-compatible, local, extractive.",
    )
    llm_model: str | None = Field(None, description="Model name for the openai / openai-compatible backends.")
    llm_base_url: str | None = Field(
        None,
        validation_alias=AliasChoices("PAPERCHAT_LLM_BASE_URL", "OPENAI_BASE_URL"),
        description="Base URL of an OpenAI-compatible server (Ollama, vLLM, llama.cpp).",
    )
    openai_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("OPENAI_API_KEY", "PAPERCHAT_OPENAI_API_KEY"),
        description="OpenAI API key; enables the openai backend under llm=auto.",
    )
    llm_timeout: float = Field(60.0, description="Seconds before a model request is abandoned.")
    llm_retries: int = Field(2, description="Retries for a failed model request before degrading.")
    local_model: Path | None = Field(
        None, description="GGUF file for the local backend (default: the packaged SmolLM2-135M)."
    )
    llm_threads: int = Field(2, description="CPU threads for the local model.")

    def masked(self) -> dict[str, Any]:
        """The settings as plain values; a secret shows only whether it is set."""
        values: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "<set, hidden>" if value.get_secret_value() else None
            elif isinstance(value, Path):
                value = str(value)
            values[name] = value
        return values

    def describe(self) -> dict[str, str]:
        """Field name -> description, for ``paperchat config --help``-style output."""
        return {name: (f.description or "") for name, f in type(self).model_fields.items()}


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment with explicit (non-None) overrides on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
