"""Exercises and their checker. Learners call `check("NN.k", answer)` after each exercise."""

from utils.exercises.checker import Verdict, check, evaluate
from utils.exercises.core import Case, Exercise, Mistake, get_exercise, load_all, register

__all__ = ["Case", "Exercise", "Mistake", "Verdict", "check", "evaluate", "get_exercise", "load_all", "register"]
