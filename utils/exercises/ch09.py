"""Chapter 09 exercises: a self-check quiz (value answers), explained in the solutions notebook.

The quiz is data, kept in `ch09.toml` next to this file: each question's answer, and its known wrong
answers with their hints in English and Chinese.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any

from utils.exercises.core import Exercise, Mistake, register


def _answer(value: Any) -> Any:
    """TOML has no tuples: a list in the quiz is a shape, checked as a tuple."""
    return tuple(value) if isinstance(value, list) else value


_QUIZ = tomllib.loads(resources.files(__package__).joinpath("ch09.toml").read_text(encoding="utf-8"))

for question in _QUIZ["question"]:
    register(Exercise(
        id=question["id"], title=question["title"], title_zh=question["title_zh"], kind="value",
        reference=_answer(question["answer"]),
        mistakes=[Mistake(wrong["hint"], _answer(wrong["answer"]), wrong["zh"]) for wrong in question["wrong"]]))
