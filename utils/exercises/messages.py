"""Every message the exercise checker prints, in English and in Chinese, in one catalogue: messages.toml.

A notebook chooses its language once, in its first cell: `utils.exercises.set_language("zh")`,
or, as the Chinese edition does, with the environment variable `COURSE_LANG=zh` (its first
line is `%env COURSE_LANG=zh`). `set_language` wins over the variable. The default is English. Exercise titles and hints come from the exercise itself
(`Exercise.title` / `title_zh`, `Mistake.hint` / `hint_zh`); everything else is here.
"""

from __future__ import annotations

import os
import tomllib
from importlib import resources
from typing import Any

LANGUAGES = ("en", "zh")
_state: dict[str, str | None] = {"language": None}  # None: follow COURSE_LANG, else English


def set_language(language: str) -> None:
    """Choose the language of the checker's messages: "en" (the default) or "zh"."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, got {language!r}")
    _state["language"] = language


def get_language() -> str:
    """The language the checker prints in now: "en" or "zh"."""
    if _state["language"] is not None:
        return _state["language"]
    from_env = os.environ.get("COURSE_LANG", "en")
    if from_env not in LANGUAGES:
        raise ValueError(f"COURSE_LANG must be one of {LANGUAGES}, got {from_env!r}")
    return from_env


def _catalogue() -> dict[str, tuple[str, str]]:
    """messages.toml, next to this file: key = [English, Chinese]."""
    data = tomllib.loads(resources.files(__package__).joinpath("messages.toml").read_text(encoding="utf-8"))
    bad = [key for key, pair in data.items() if not (isinstance(pair, list) and len(pair) == 2)]
    if bad:
        raise ValueError(f"messages.toml: each message is [English, Chinese]; not so for {bad}")
    return {key: (english, chinese) for key, (english, chinese) in data.items()}


# key: (English, Chinese). Fields in braces are filled by `text`.
MESSAGES: dict[str, tuple[str, str]] = _catalogue()


def text(key: str, **fields: Any) -> str:
    """The message `key` in the current language, with its fields filled in."""
    english, chinese = MESSAGES[key]
    return (chinese if get_language() == "zh" else english).format(**fields)


def title_of(exercise: Any) -> str:
    """The exercise's title in the current language (English when no Chinese title is registered)."""
    if get_language() == "zh" and getattr(exercise, "title_zh", None):
        return exercise.title_zh
    return exercise.title


def hint_of(mistake: Any) -> str:
    """The mistake's hint in the current language (English when no Chinese hint is registered)."""
    if get_language() == "zh" and getattr(mistake, "hint_zh", None):
        return mistake.hint_zh
    return mistake.hint
