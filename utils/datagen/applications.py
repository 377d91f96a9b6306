"""Seeded generators for chapter 06's three toy applications (no download, CC0).

- `dates.tsv`   translation: human-readable dates in English, French, German and Spanish,
  and two numeric formats, paired with their ISO 8601 form ("28 novembre 2026" -> "2026-11-28").
- `reports.tsv` summarisation: a templated quarterly-results report of 3-5 sentences, with
  distracting numbers and a rival company, paired with a headline ("Acme Q3 revenue up 12%").
- `babi_qa.tsv` question answering: bAbI-style stories ("mary went to the kitchen .") with a
  question ("where is mary ?"), its one-word answer, and the index of the supporting sentence.

Every file is tab-separated with a header; the first column is the split, `train` or `test`.
Test rows never repeat a training input.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

# ---------------------------------------------------------------- dates (translation)

MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"],
    "en_abbr": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre"],
    "de": ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
           "September", "Oktober", "November", "Dezember"],
    "es": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
           "septiembre", "octubre", "noviembre", "diciembre"],
}
WEEKDAYS = {
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "fr": ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"],
}


def _fr_day(d: dt.date) -> str:
    return "1er" if d.day == 1 else str(d.day)


# format name -> function(date) -> human-readable string
DATE_FORMATS: dict[str, Callable[[dt.date], str]] = {
    "en_mdy": lambda d: f"{MONTHS['en'][d.month - 1]} {d.day}, {d.year}",
    "en_abbr": lambda d: f"{MONTHS['en_abbr'][d.month - 1]} {d.day}, {d.year}",
    "en_dmy_weekday": lambda d: f"{WEEKDAYS['en'][d.weekday()]}, {d.day} {MONTHS['en'][d.month - 1]} {d.year}",
    "fr": lambda d: f"{_fr_day(d)} {MONTHS['fr'][d.month - 1]} {d.year}",
    "fr_weekday": lambda d: f"{WEEKDAYS['fr'][d.weekday()]} {_fr_day(d)} {MONTHS['fr'][d.month - 1]} {d.year}",
    "de": lambda d: f"{d.day}. {MONTHS['de'][d.month - 1]} {d.year}",
    "es": lambda d: f"{d.day} de {MONTHS['es'][d.month - 1]} de {d.year}",
    "numeric_dmy": lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",
    "numeric_us": lambda d: f"{d.month:02d}/{d.day:02d}/{d.year}",
}
FIRST_DAY, LAST_DAY = dt.date(1950, 1, 1).toordinal(), dt.date(2049, 12, 31).toordinal()


def iso_date(d: dt.date) -> str:
    """The ISO 8601 form YYYY-MM-DD of a date."""
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


def date_example(rng: random.Random) -> tuple[str, str, str]:
    """One (format name, human-readable date, ISO date) drawn with `rng`."""
    d = dt.date.fromordinal(rng.randint(FIRST_DAY, LAST_DAY))
    fmt = rng.choice(sorted(DATE_FORMATS))
    return fmt, DATE_FORMATS[fmt](d), iso_date(d)


# ---------------------------------------------------------------- reports (summarisation)

COMPANIES = ["Acme", "Borealis", "Cobalt", "Dynamo", "Everest", "Fjord", "Granite", "Helix",
             "Ionic", "Juniper", "Kestrel", "Lumen"]
METRICS = ["sales", "profit", "revenue", "orders"]
UP_VERBS = ["rose", "grew", "climbed", "jumped"]
DOWN_VERBS = ["fell", "dropped", "slipped", "declined"]
QUARTERS = ["first", "second", "third", "fourth"]
CITIES = ["Oslo", "Lyon", "Porto", "Graz", "Turin", "Leeds"]
PEOPLE = ["Lina Park", "Omar Diaz", "Ruth Cole", "Ken Ito", "Ada Berg", "Sam Okafor"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]

KEY_TEMPLATES = [
    "{co} said its {metric} {verb} {n} percent in the {q} quarter .",
    "In the {q} quarter , {metric} at {co} {verb} by {n} percent .",
    "{Metric} at {co} {verb} {n} percent during the {q} quarter , the company said .",
]


def report_example(rng: random.Random) -> tuple[str, str]:
    """One (report, headline) pair drawn with `rng`; the headline reads '<Co> Q<k> <metric> up|down <n>%'."""
    co, rival = rng.sample(COMPANIES, 2)
    metric, q = rng.choice(METRICS), rng.randrange(4)
    up = rng.random() < 0.5
    n = rng.randint(1, 60)
    key = rng.choice(KEY_TEMPLATES).format(
        co=co, metric=metric, Metric=metric.capitalize(), verb=rng.choice(UP_VERBS if up else DOWN_VERBS),
        n=n, q=QUARTERS[q])
    details = [
        f"The company employs {rng.randint(100, 990)} people in {rng.choice(CITIES)} .",
        f"Its shares closed at {rng.randint(5, 99)} dollars on {rng.choice(DAYS)} .",
        f"{rng.choice(PEOPLE)} has led {co} for {rng.randint(2, 30)} years .",
    ]
    if rng.random() < 0.6:  # a rival's figures: same kind of sentence, wrong company
        details.append(f"A rival , {rival} , said its {rng.choice(METRICS)} "
                       f"{rng.choice(UP_VERBS + DOWN_VERBS)} {rng.randint(1, 60)} percent .")
    if rng.random() < 0.6:  # a percentage that is not the result
        details.append(f"Analysts had expected a change of {rng.randint(1, 60)} percent .")
    body = [key, *rng.sample(details, rng.randint(1, 3))]
    rng.shuffle(body)
    opening = f"{co} published results for the {QUARTERS[q]} quarter on {rng.choice(DAYS)} ."
    headline = f"{co} Q{q + 1} {metric} {'up' if up else 'down'} {n}%"
    return " ".join([opening, *body]), headline


# ---------------------------------------------------------------- bAbI-style QA

PERSONS = ["mary", "john", "sandra", "daniel", "anna", "peter"]
PLACES = ["kitchen", "garden", "office", "bathroom", "hallway", "bedroom"]
MOVES = ["went to", "moved to", "journeyed to", "travelled to", "went back to"]


def qa_example(rng: random.Random) -> tuple[str, str, str, int]:
    """One (story, question, answer, supporting sentence index) drawn with `rng`."""
    n_sentences = rng.randint(2, 5)
    who = [rng.choice(PERSONS[:4] if rng.random() < 0.5 else PERSONS) for _ in range(n_sentences)]
    where = [rng.choice(PLACES) for _ in range(n_sentences)]
    sentences = [f"{p} {rng.choice(MOVES)} the {w} ." for p, w in zip(who, where)]
    asked = rng.choice(who)
    support = max(i for i, p in enumerate(who) if p == asked)
    return " ".join(sentences), f"where is {asked} ?", where[support], support


# ---------------------------------------------------------------- files


def _split_rows(draw: Callable[[random.Random], tuple], seed: int, n_train: int, n_test: int) -> list[tuple]:
    """Draw train rows, then test rows whose input (first field) never occurs in train."""
    rng = random.Random(seed)
    train = [draw(rng) for _ in range(n_train)]
    seen = {row[0] for row in train}
    test: list[tuple] = []
    while len(test) < n_test:
        row = draw(rng)
        if row[0] not in seen:
            seen.add(row[0])
            test.append(row)
    return [("train", *r) for r in train] + [("test", *r) for r in test]


def _tsv(header: list[str], rows: list[tuple]) -> bytes:
    lines = ["\t".join(header)] + ["\t".join(str(x) for x in row) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def dates_bytes() -> bytes:
    """dates.tsv: split, format, source, target."""
    def draw(rng: random.Random) -> tuple:
        fmt, source, target = date_example(rng)
        return (source, fmt, target)

    rows = [(split, fmt, source, target) for split, source, fmt, target in _split_rows(draw, 606, 4000, 500)]
    return _tsv(["split", "format", "source", "target"], rows)


def reports_bytes() -> bytes:
    """reports.tsv: split, source, target."""
    return _tsv(["split", "source", "target"], _split_rows(report_example, 616, 3000, 300))


def babi_qa_bytes() -> bytes:
    """babi_qa.tsv: split, story, question, answer, support."""
    def draw(rng: random.Random) -> tuple:
        story, question, answer, support = qa_example(rng)
        return (f"{story} | {question}", story, question, answer, support)

    rows = [(split, *rest) for split, _key, *rest in _split_rows(draw, 626, 4000, 400)]
    return _tsv(["split", "story", "question", "answer", "support"], rows)


FILES = {"dates.tsv": dates_bytes, "reports.tsv": reports_bytes, "babi_qa.tsv": babi_qa_bytes}
