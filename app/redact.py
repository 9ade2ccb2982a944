"""Keep API keys out of anything shown to a user or written to a log.

Model servers quote credentials back in their error text (OpenAI's 401 names the key it
refused; proxies and self-hosted servers echo the ``Authorization`` header), and paperchat
shows a failed server's own message in the answer's notice because it is often the most
useful part ("model 'llama3' not found"). So every such text passes through
:func:`redact_secrets` first: the exact key the failed request carried is replaced (it is
read from the request inside the error, so nothing needs to know the settings), and so is
anything shaped like a bearer token or an ``sk-`` key, which catches a key of another
provider or a proxy's.
"""

from __future__ import annotations

import re

REDACTED = "[redacted]"
#: ``sk-...`` style keys (OpenAI, and the many servers that copy the format) and bearer tokens.
_KEY_SHAPES = re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}|(?<=Bearer )[^\s'\",)}]+", re.IGNORECASE)
#: Shorter values are not treated as secrets (an empty or placeholder key would blank text).
_MIN_SECRET = 8


def secrets_of(error: BaseException | None) -> set[str]:
    """The credentials the failed request carried: the ``Authorization`` header of every
    request found along the error's cause chain (openai and httpx errors keep theirs)."""
    found: set[str] = set()
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        try:
            request = getattr(error, "request", None)  # httpx raises if it was never set
            header = str(request.headers.get("authorization", "")) if request is not None else ""
        except (AttributeError, RuntimeError):
            header = ""
        token = header.split(" ", 1)[-1].strip()
        if len(token) >= _MIN_SECRET:
            found.add(token)
        error = error.__cause__ or error.__context__
    return found


def redact_secrets(text: str, error: BaseException | None = None, extra: tuple[str, ...] = ()) -> str:
    """``text`` with the credentials of ``error``'s request, ``extra`` values and anything
    shaped like a key replaced by ``[redacted]``."""
    for secret in sorted(secrets_of(error) | {s for s in extra if s and len(s) >= _MIN_SECRET}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return _KEY_SHAPES.sub(REDACTED, text)
