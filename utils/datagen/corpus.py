"""A small English corpus written by a seeded template grammar (no download, public domain).

Words from the same group (animals, foods, places, people, ...) appear in the same kinds
of context, so co-occurrence statistics give related words similar vectors (chapter 03).
"""

from __future__ import annotations

import random

GROUPS = {
    "animal": ["cat", "dog", "horse", "cow", "sheep", "bird"],
    "food": ["bread", "apple", "cheese", "rice", "soup", "cake"],
    "place": ["kitchen", "garden", "park", "farm", "school", "market"],
    "person": ["mary", "john", "anna", "peter", "lucy", "tom"],
    "adjective": ["hungry", "tired", "happy", "small", "old", "quick"],
}

TEMPLATES = [
    "the {adjective} {animal} eats the {food}",
    "the {animal} sleeps in the {place}",
    "the {animal} runs to the {place}",
    "{person} feeds the {animal} some {food}",
    "{person} walks to the {place}",
    "{person} cooks {food} in the {place}",
    "{person} buys {food} at the {place}",
    "{person} likes the {adjective} {animal}",
    "the {food} is on the table in the {place}",
    "{person} and {person2} talk in the {place}",
    "the {animal} chases the {animal2} in the {place}",
    "{person} is {adjective} after school",
]

N_SENTENCES = 4000
SEED = 2017


def make_corpus(n_sentences: int = N_SENTENCES, seed: int = SEED) -> list[str]:
    """Return `n_sentences` sentences drawn from the templates with a seeded RNG."""
    rng = random.Random(seed)
    sentences = []
    for _ in range(n_sentences):
        template = rng.choice(TEMPLATES)
        slots = {group: rng.choice(words) for group, words in GROUPS.items()}
        slots["person2"] = rng.choice([p for p in GROUPS["person"] if p != slots["person"]])
        slots["animal2"] = rng.choice([a for a in GROUPS["animal"] if a != slots["animal"]])
        sentences.append(template.format(**slots))
    return sentences


def corpus_bytes() -> bytes:
    """The corpus as UTF-8 text, one sentence per line."""
    return ("\n".join(make_corpus()) + "\n").encode("utf-8")


FILES = {"corpus.txt": corpus_bytes}
