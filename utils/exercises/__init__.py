"""Exercises and their checker. Learners call `check("NN.k", answer)` after each exercise.

`set_language("zh")` makes the checker print in Chinese (the Chinese edition calls it in its first cell).
"""

from utils.exercises.checker import Verdict, check, evaluate
from utils.exercises.core import Case, Exercise, Mistake, get_exercise, load_all, register
from utils.exercises.messages import get_language, set_language

__all__ = ["Case", "Exercise", "Mistake", "Verdict", "check", "evaluate", "get_exercise", "get_language", "load_all",
           "register", "set_language"]
