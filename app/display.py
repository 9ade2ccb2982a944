"""Listing text as a reader sees it: Markdown emphasis and LaTeX-ish maths turned into plain text.

Listings copy abstracts from papers, so they carry the authors' markup: ``*ViP*---a
**Vi**sion transformer``, ``$\\epsilon=8$``, ``\\emph{any-precision LLM}``, ``Hybrid$^2$``. Shown
raw, a researcher reads noise; rendered as Markdown/KaTeX, a hostile abstract could become
markup. :func:`readable` takes the third way: plain Unicode text (``ViP—a Vision
transformer``, ``ε=8``, ``any-precision LLM``, ``Hybrid²``), which the page then escapes like
any other text.

Only what is shown changes: stored records, search, evidence selection, exports and the
JSON API keep the listing's text byte for byte. The output is never markup, so calling this
before escaping cannot weaken escaping.
"""

from __future__ import annotations

import re
import unicodedata

#: LaTeX commands shown as one character (or a short word).
SYMBOLS: dict[str, str] = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε",
    "zeta": "ζ", "eta": "η", "theta": "θ", "vartheta": "ϑ", "iota": "ι", "kappa": "κ",
    "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ",
    "tau": "τ", "upsilon": "υ", "phi": "φ", "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
    "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π", "Sigma": "Σ",
    "Upsilon": "Υ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
    "times": "×", "cdot": "·", "pm": "±", "mp": "∓", "div": "÷", "ast": "∗", "star": "⋆",
    "leq": "≤", "le": "≤", "geq": "≥", "ge": "≥", "neq": "≠", "ne": "≠", "approx": "≈",
    "sim": "∼", "simeq": "≃", "cong": "≅", "equiv": "≡", "propto": "∝", "ll": "≪", "gg": "≫",
    "lesssim": "≲", "gtrsim": "≳", "in": "∈", "notin": "∉", "subset": "⊂", "subseteq": "⊆",
    "supset": "⊃", "supseteq": "⊇", "cup": "∪", "cap": "∩", "emptyset": "∅", "forall": "∀",
    "exists": "∃", "neg": "¬", "wedge": "∧", "vee": "∨", "to": "→", "rightarrow": "→",
    "leftarrow": "←", "Rightarrow": "⇒", "Leftarrow": "⇐", "leftrightarrow": "↔", "mapsto": "↦",
    "infty": "∞", "partial": "∂", "nabla": "∇", "sum": "∑", "prod": "∏", "int": "∫",
    "ell": "ℓ", "dots": "…", "ldots": "…", "cdots": "⋯", "circ": "∘", "prime": "′",
    "log": "log", "ln": "ln", "exp": "exp", "min": "min", "max": "max", "sup": "sup",
    "inf": "inf", "lim": "lim", "arg": "arg", "det": "det", "sin": "sin", "cos": "cos",
    "L": "Ł", "l": "ł", "o": "ø", "O": "Ø", "ss": "ß", "aa": "å", "AA": "Å",
    "%": "%", "&": "&", "_": "_", "#": "#", "$": "$", "{": "{", "}": "}",
}
#: Commands whose braced argument is shown as is (font and emphasis changes).
KEEP_ARGUMENT = frozenset(
    "emph textit textbf textsc texttt textrm textsf text mathrm mathbf mathit mathsf mathtt "
    "boldsymbol bm operatorname underline defn mbox hbox".split()
)
#: Font switches written ``{\\it x}``; the switch is dropped and ``x`` kept.
SWITCHES = frozenset("it bf em rm sc tt sf sl".split())
#: Blackboard letters; other ``\\mathbb`` arguments are shown plain.
BLACKBOARD = {"R": "ℝ", "N": "ℕ", "Z": "ℤ", "Q": "ℚ", "C": "ℂ", "E": "𝔼", "P": "ℙ"}
#: Accents shown by a combining character after the letter (``\\tilde{O}`` -> ``Õ``).
ACCENTS = {"tilde": "\u0303", "widetilde": "\u0303", "hat": "\u0302", "widehat": "\u0302",
           "bar": "\u0304", "overline": "\u0305", "vec": "\u20d7", "dot": "\u0307"}
SUPERSCRIPT = str.maketrans("0123456789+-=()niT", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵀ")
SUBSCRIPT = str.maketrans("0123456789+-=()aeiorstux", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑᵢₒᵣₛₜᵤₓ")
_SUPERSCRIPTABLE = set("0123456789+-=()niT")
_SUBSCRIPTABLE = set("0123456789+-=()aeiorstux")

_ESCAPED_DOLLAR = re.compile(r"\\+\$")
_DOLLAR_MARK = "\ue000"  # a literal "$" while maths is found; private use, stripped from input
_SPACE_MARK = "\ue001"  # a space maths must keep (around word operators, after \\,)
_CARET_MARK, _UNDERSCORE_MARK = "\ue002", "\ue003"  # a "^" / "_" already read, not to read again
_MARKS = (_DOLLAR_MARK, _SPACE_MARK, _CARET_MARK, _UNDERSCORE_MARK)
#: ``$...$`` as Pandoc reads it: no space just inside the dollars, no digit right after.
_MATH = re.compile(
    r"\$\$(.{1,300}?)\$\$|\$(?=[^\s$])([^$\n]{1,300}?)(?<=[^\s\\])\$(?!\d)|\\\((.{1,300}?)\\\)", re.DOTALL
)
_COMMAND = re.compile(r"\\([A-Za-z]+|[%&_#${}])")
_WORD_OPERATORS = "log ln exp min max sup inf lim arg det sin cos tan argmin argmax".split()
_BOLD = re.compile(r"\*\*(?=\S)([^*\n]{1,200}?)(?<=\S)\*\*")
_ITALIC = re.compile(r"(?<![\w*\\])\*(?=[^\s*])([^*\n]{1,200}?)(?<=[^\s*\\])\*(?![*\w])")


def readable(text: str | None) -> str:
    """``text`` with listing markup turned into plain readable text; ``None`` -> ``""``."""
    if not text:
        return ""
    value = text
    for mark in _MARKS:
        value = value.replace(mark, "")
    value = _ESCAPED_DOLLAR.sub(_DOLLAR_MARK, value)
    value = _MATH.sub(lambda m: math_text(next(g for g in m.groups() if g is not None)), value)
    value = latex_text(value)
    value = _BOLD.sub(r"\1", value)
    value = _ITALIC.sub(r"\1", value)
    value = dashes(value)
    return unicodedata.normalize("NFC", value.replace(_DOLLAR_MARK, "$"))  # O + combining tilde -> Õ


def dashes(text: str) -> str:
    """TeX dashes: ``---`` is an em dash, ``--`` between words or digits an en dash."""
    text = re.sub(r"\s*---\s*", "—", text)
    text = re.sub(r"(?<=\w)--(?=\w)", "–", text)
    return re.sub(r"(?<=\s)--(?=\s)", "–", text)


def math_text(source: str) -> str:
    """One formula as plain text: ``\\epsilon=8`` -> ``ε=8``, ``O(n^2)`` -> ``O(n²)``.

    The author's spacing is kept (collapsed); word operators get a space each side, since
    TeX sets them apart but the source often runs them on (``mn\\log n`` -> ``mn log n``).
    """
    value = re.sub(r"\\(?:left|right|big|Big|bigg|Bigg)(?![A-Za-z])", "", source)
    value = re.sub(r"\\[,;:! ]", _SPACE_MARK, value)
    value = re.sub(r"\\(" + "|".join(_WORD_OPERATORS) + r")(?![A-Za-z])", _SPACE_MARK + r"\1" + _SPACE_MARK, value)
    value = _accents(value)
    value = _roots_and_fractions(value)
    value = re.sub(r"\\mathbb\s*\{?\s*([A-Z])\s*\}?", lambda m: BLACKBOARD.get(m.group(1), m.group(1)), value)
    value = re.sub(r"\\(?:mathcal|mathscr|mathfrak)\s*\{([^{}]*)\}", r"\1", value)
    value = latex_text(value)
    value = _scripts(value, braced_only=False)
    value = value.replace("{", "").replace("}", "").replace(_SPACE_MARK, " ")
    value = value.replace(_CARET_MARK, "^").replace(_UNDERSCORE_MARK, "_")
    value = re.sub(r"\s{2,}", " ", value)
    return re.sub(r"(?<=[(\[]) | (?=[)\],])", "", value).strip()


def latex_text(text: str) -> str:
    """Text-mode LaTeX: ``\\emph{x}`` -> ``x``, ``{\\it x}`` -> ``x``, ``\\%`` -> ``%``, ``~`` -> space."""
    value = re.sub(r"\\href\s*\{([^{}]*)\}\s*\{([^{}]*)\}", r"\2 (\1)", text)
    value = re.sub(r"\\url\s*\{([^{}]*)\}", r"\1", value)
    value = re.sub(r"\\(?:cite[tp]?|citep|citet|ref|eqref|label)\s*\{[^{}]*\}", "", value)
    for _ in range(3):  # nested \textbf{\emph{x}}
        value = re.sub(
            r"\\([A-Za-z]+)\s*\{([^{}]*)\}",
            lambda m: m.group(2) if m.group(1) in KEEP_ARGUMENT else m.group(0),
            value,
        )
    value = re.sub(r"\{\\(" + "|".join(SWITCHES) + r")\b\s*([^{}]*)\}", r"\2", value)
    value = re.sub(r"\{\\(L|l|o|O|ss|aa|AA)\}", lambda m: SYMBOLS[m.group(1)], value)
    value = _COMMAND.sub(_command, value)
    value = re.sub(r"(?<=\S)~(?=\S)", " ", value)
    return value


def _command(match: re.Match[str]) -> str:
    """A bare command: its symbol, else its name (an unknown macro like ``\\ours`` -> ``ours``)."""
    name = match.group(1)
    if name == "$":
        return _DOLLAR_MARK
    return SYMBOLS.get(name, name)


def _group(inner: str) -> str:
    """``x`` stays ``x``; a longer expression is parenthesised so ``√(mn)`` reads right."""
    inner = inner.strip()
    simple = re.fullmatch(r"\d+(?:\.\d+)?|(?:\\[A-Za-z]+|[^\s+\-*/=(),\\\ue001])*", inner)
    return inner if simple else f"({inner})"


def _roots_and_fractions(value: str) -> str:
    """``\\frac{a}{b}`` -> ``a/b``, ``\\sqrt{x}`` -> ``√x`` (parenthesised when needed), innermost first."""
    fraction = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
    short = re.compile(r"\\[dt]?frac\s*(\d)(\d|[A-Za-z])")
    root = re.compile(r"\\sqrt\s*\{([^{}]*)\}")
    for _ in range(6):
        before = value
        value = _scripts(value, braced_only=True)
        value = fraction.sub(lambda m: f"{_group(m.group(1))}/{_group(m.group(2))}", value)
        value = short.sub(r"(\1/\2)", value)
        value = root.sub(lambda m: "√" + _group(m.group(1)), value)
        value = re.sub(r"\\sqrt\s*(?=[A-Za-z0-9\\])", "√", value)
        if value == before:
            break
    return value


def _accents(value: str) -> str:
    """``\\tilde{O}`` -> ``Õ``; on several letters the accent is dropped (``\\hat{xy}`` -> ``xy``)."""
    def accent(match: re.Match[str]) -> str:
        inner = (match.group(2) or match.group(3) or "").strip()
        return inner + ACCENTS[match.group(1)] if len(inner) == 1 else inner

    names = "|".join(ACCENTS)
    return re.sub(rf"\\({names})\s*(?:\{{([^{{}}]*)\}}|([A-Za-z]))", accent, value)


def _scripts(value: str, braced_only: bool) -> str:
    """Superscripts and subscripts; ``braced_only`` converts just ``^{...}`` with no braces inside,
    so fractions around them (``\\frac{1}{\\epsilon^{2}}``) can be read next."""
    sup = r"\^\{([^{}]*)\}" if braced_only else r"\^\{([^{}]*)\}|\^([^{}\\\s])"
    sub = r"_\{([^{}]*)\}" if braced_only else r"_\{([^{}]*)\}|_([A-Za-z0-9])"
    value = re.sub(sup, lambda m: _script(m, SUPERSCRIPT, _SUPERSCRIPTABLE, _CARET_MARK), value)
    return re.sub(sub, lambda m: _script(m, SUBSCRIPT, _SUBSCRIPTABLE, _UNDERSCORE_MARK), value)


def _script(match: re.Match[str], table: dict[int, str], allowed: set[str], mark: str) -> str:
    """A super/subscript in Unicode when every character has one, else ``^x`` / ``^(x+y)``."""
    groups = [g for g in match.groups() if g is not None]
    plain = latex_text(groups[0] if groups else "").replace(" ", "").replace(_SPACE_MARK, "")
    if plain and all(ch in allowed for ch in plain):
        return plain.translate(table)
    return f"{mark}{plain}" if plain.isalnum() else f"{mark}({plain})"


_NUMBERED_HASHED_FILE = re.compile(r"^(\d{1,6})_[0-9a-f]{8,64}(?:\.[A-Za-z0-9]{1,8})?$")


def listing_label(file_name: str | None) -> str:
    """A listing as a reader can say it: ``001_49cbb665570d8f3c.txt`` -> ``listing 001``.

    Names made of a number and a content hash mean nothing to a reader; other names (a
    user's own ``orals.jsonl``) are already readable and kept. The full name stays in the
    page's tooltip, so nothing is hidden, only shortened.
    """
    name = (file_name or "").rsplit("/", 1)[-1]
    match = _NUMBERED_HASHED_FILE.match(name)
    return f"listing {match.group(1)}" if match else (name or "an unnamed listing")


def untitled_label(abstract: str | None, words: int = 10) -> str:
    """What a card calls a paper whose listing gave no title: its abstract's opening words.

    The authors are not repeated here; the card shows them on their own line.
    """
    tokens = readable(abstract).split()
    if not tokens:
        return "Untitled"
    opening = " ".join(tokens[:words]) + ("…" if len(tokens) > words else "")
    return f"Untitled: “{opening}”"
