"""The errors a user can fix, shown at the edges as one line without a traceback."""

from __future__ import annotations

from app.backends import BackendError
from app.search import FilterError
from ingest.parsers import ListingParseError
from prompts import PromptTemplateError
from vectorstore.lock import StoreBusyError
from vectorstore.store import (
    StoreCorruptError,
    StoreMismatchError,
    StoreMissingError,
    StoreUnavailableError,
)

USER_ERRORS: tuple[type[BaseException], ...] = (
    BackendError,
    FilterError,
    ListingParseError,
    PromptTemplateError,
    StoreBusyError,
    StoreCorruptError,
    StoreMismatchError,
    StoreMissingError,
    StoreUnavailableError,
    FileNotFoundError,
    ValueError,
)
