"""Prompt templates are checked when loaded: a wrong placeholder fails at once, naming the file.

The shipped templates are files anyone may edit; a typo in one must not surface as a
``KeyError`` halfway through someone's answer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from prompts import EXPECTED_FIELDS, PromptTemplateError, load_prompt, read_template, render

QA_WITHOUT_CONTEXT = "Question: {question}\n{matched_line}\nIf nothing fits, reply: {no_answer}\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.txt"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", sorted(EXPECTED_FIELDS))
def test_every_shipped_template_loads_and_fills(name: str) -> None:
    assert load_prompt(name)
    filled = render(name, **{field: f"<{field}>" for field in EXPECTED_FIELDS[name]})
    assert all(f"<{field}>" in filled for field in EXPECTED_FIELDS[name])


def test_a_missing_placeholder_names_the_file_and_the_field(tmp_path: Path) -> None:
    path = write(tmp_path, "qa", QA_WITHOUT_CONTEXT)
    with pytest.raises(PromptTemplateError) as caught:
        read_template("qa", path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "missing: context" in message and "unexpected: none" in message


def test_an_extra_placeholder_names_the_file_and_the_field(tmp_path: Path) -> None:
    path = write(tmp_path, "system", "You answer from sources. {no_answer} Today is {date}.")
    with pytest.raises(PromptTemplateError, match=rf"^{path}: placeholders missing: none; unexpected: date "):
        read_template("system", path)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("Reply {no_answer} or {}", "positional placeholders {}"),
        ("Reply {no_answer} as JSON: {", "not a valid template"),
        ("Reply {no_answer} as JSON: }", "not a valid template"),
    ],
    ids=["positional", "unclosed", "stray-close"],
)
def test_a_malformed_template_names_the_file(tmp_path: Path, text: str, says: str) -> None:
    path = write(tmp_path, "system", text)
    with pytest.raises(PromptTemplateError, match=str(path)) as caught:
        read_template("system", path)
    assert says in str(caught.value)


def test_literal_braces_written_doubled_are_fine(tmp_path: Path) -> None:
    path = write(tmp_path, "system", 'Reply {no_answer}, never JSON like {{"answer": 1}}.')
    assert read_template("system", path).format(no_answer="X") == 'Reply X, never JSON like {"answer": 1}.'


def test_a_missing_or_unknown_template_says_which(tmp_path: Path) -> None:
    with pytest.raises(PromptTemplateError, match=r"prompt file .*qa\.txt is missing"):
        read_template("qa", tmp_path / "qa.txt")
    with pytest.raises(PromptTemplateError, match="unknown prompt 'answer'; known: condense, extractive"):
        load_prompt("answer")
