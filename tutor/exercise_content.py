"""The shape of an exercise's `content` for each exercise type, checked with JSON Schema.

Clients render exercises from `content`, so a malformed one would break a learner's screen;
every entry point (API, admin, fixtures, `check_bank`) validates it here.

Rules every type shares (the README's "Exercise content" shows one example of each):
- `answer_mode` says how the learner answers: `spoken`, `typed` or `choice` (an item may say otherwise
  for itself);
- every item has an `id`, unique in the whole bank (`check_bank` checks the bank), so that answers and
  results can name the item;
- a keyed item has one `answer` and may list `also_accepted` alternatives; an open rewriting task has a
  `model_answer` and the `criteria` an answer must meet instead;
- a pronunciation item lists its `audio` recordings, one per accent (`GB` General British, `GA` General
  American); an empty list says that no recording exists, and a client must not put a synthetic voice
  in its place as a model.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from jsonschema import Draft202012Validator

from tutor.taxonomy import ExerciseType
from tutor.text import VISIBLE_TEXT

# Text a learner reads: at least one visible character, and never NUL (PostgreSQL's JSON cannot hold it).
_TEXT = {"type": "string", "minLength": 1, "pattern": VISIBLE_TEXT}
_TEXTS = {"type": "array", "items": _TEXT, "minItems": 1}

ANSWER_MODES = ("spoken", "typed", "choice")
ACCENT_NAMES = {"GB": "General British", "GA": "General American"}
ACCENTS = tuple(ACCENT_NAMES)
ITEM_ID_MAX_LENGTH = 80
ITEM_ID_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9._-]{{0,{ITEM_ID_MAX_LENGTH - 1}}}$"

_ANSWER_MODE = {"enum": list(ANSWER_MODES)}
_ITEM_ID = {"type": "string", "pattern": ITEM_ID_PATTERN}
_IPA = {"type": "string", "minLength": 1, "pattern": VISIBLE_TEXT, "description": "IPA between slashes."}
_AUDIO = {
    "type": "array",
    "maxItems": len(ACCENTS),
    "description": "Recordings by a person, one per accent; empty when none exists.",
    "items": {
        "type": "object",
        "required": ["accent", "url"],
        "additionalProperties": False,
        "properties": {"accent": {"enum": list(ACCENTS)}, "url": _TEXT},
    },
}
_STRESS = {
    "type": "array",
    "minItems": 1,
    "description": "Words whose stress the item teaches: the syllables as spoken, and which one is stressed.",
    "items": {
        "type": "object",
        "required": ["word", "syllables", "stressed"],
        "additionalProperties": False,
        "properties": {
            "word": _TEXT,
            "syllables": {"type": "array", "items": _TEXT, "minItems": 1},
            "stressed": {"type": "integer", "minimum": 0, "description": "Index in `syllables`, from 0."},
        },
    },
}


def _item(properties: dict, required: list[str], **extra) -> dict:
    return {
        "type": "object",
        "required": ["id", *required],
        "additionalProperties": False,
        "properties": {"id": _ITEM_ID, "answer_mode": _ANSWER_MODE, **properties},
        **extra,
    }


def _exercise(items: dict, **more) -> dict:
    return {
        "type": "object",
        "required": ["answer_mode", "items"],
        "additionalProperties": False,
        "properties": {
            "answer_mode": _ANSWER_MODE,
            "items": {"type": "array", "minItems": 1, "items": items},
            "tip": _TEXT,
            **more,
        },
    }


_OPTIONS = {"type": "array", "items": _TEXT, "minItems": 3, "maxItems": 6, "uniqueItems": True}
_KEYED = {"answer": _TEXT, "also_accepted": _TEXTS, "explanation": _TEXT}
_OPEN = {"model_answer": _TEXT, "criteria": _TEXTS, "explanation": _TEXT}

SCHEMAS: dict[str, dict] = {
    ExerciseType.GAP_FILL: _exercise(
        _item(
            {
                "prompt": {
                    "type": "string",
                    "pattern": r"^[^\x00]*___[^\x00]*$",  # a gap, and no NUL
                    "description": "The sentence with ___ where the gap is.",
                },
                "options": {**_OPTIONS, "minItems": 2, "description": "Words offered for the gap, if any."},
                **_KEYED,
            },
            ["prompt", "answer"],
        )
    ),
    ExerciseType.SENTENCE_CORRECTION: _exercise(
        {
            # One wrong word or phrase with a key, or an open rewriting judged by its criteria.
            "oneOf": [
                _item({"sentence": _TEXT, **_KEYED}, ["sentence", "answer"]),
                _item({"sentence": _TEXT, **_OPEN}, ["sentence", "model_answer", "criteria"]),
            ]
        }
    ),
    ExerciseType.MULTIPLE_CHOICE: _exercise(
        _item(
            {
                "question": _TEXT,
                "options": _OPTIONS,
                "answer": _TEXT,
                "explanation": _TEXT,
                "feedback": {
                    "type": "object",
                    "description": "Why a distractor is wrong, by the distractor's text.",
                    "additionalProperties": _TEXT,
                },
            },
            ["question", "options", "answer"],
        )
    ),
    ExerciseType.REPEAT_AFTER_ME: _exercise(
        _item(
            {"text": _TEXT, "guide": _TEXT, "ipa": _IPA, "stress": _STRESS, "audio": _AUDIO},
            ["text", "audio"],
        )
    ),
    ExerciseType.MINIMAL_PAIRS: {
        "type": "object",
        "required": ["answer_mode", "focus", "identify", "pairs"],
        "additionalProperties": False,
        "properties": {
            "answer_mode": _ANSWER_MODE,
            "focus": _TEXT,
            # Listen and identify comes first: the learner hears one word and picks which it was.
            "identify": {
                "type": "array",
                "minItems": 1,
                "items": _item(
                    {
                        "options": {"type": "array", "items": _TEXT, "minItems": 2, "maxItems": 2},
                        "answer": _TEXT,
                        "audio": _AUDIO,
                    },
                    ["options", "answer", "audio"],
                ),
            },
            "pairs": {
                "type": "array",
                "minItems": 1,
                "items": _item(
                    {
                        "words": {"type": "array", "items": _TEXT, "minItems": 2, "maxItems": 2},
                        "ipa": {"type": "array", "items": _IPA, "minItems": 2, "maxItems": 2},
                        "audio": _AUDIO,
                    },
                    ["words", "audio"],
                ),
            },
            "sentences": {
                "type": "array",
                "minItems": 1,
                "items": _item({"text": _TEXT, "audio": _AUDIO}, ["text", "audio"]),
            },
            "tip": _TEXT,
        },
    },
    ExerciseType.SPEAKING_PROMPT: {
        "type": "object",
        "required": ["answer_mode", "prompt"],
        "additionalProperties": False,
        "properties": {
            "answer_mode": _ANSWER_MODE,
            "prompt": _TEXT,
            "useful_language": _TEXTS,
            "model_answer": _TEXT,
            "criteria": _TEXTS,
            "duration_seconds": {"type": "integer", "minimum": 10, "maximum": 600},
        },
    },
    ExerciseType.RETELLING: {
        "type": "object",
        "required": ["answer_mode", "source_text", "prompt"],
        "additionalProperties": False,
        "properties": {
            "answer_mode": _ANSWER_MODE,
            "source_text": _TEXT,
            "prompt": _TEXT,
            "key_points": _TEXTS,
            "model_answer": _TEXT,
            "duration_seconds": {"type": "integer", "minimum": 10, "maximum": 600},
        },
    },
}

_VALIDATORS = {kind: Draft202012Validator(schema) for kind, schema in SCHEMAS.items()}
# The content's shape depends on the type: the two are sent, checked and changed together.
CONTENT_FIELDS = ("exercise_type", "content")
# The lists of a minimal-pairs exercise that hold items, in the order a learner meets them.
MINIMAL_PAIR_STEPS = ("identify", "pairs", "sentences")


def content_schema() -> list[dict]:
    """Return the rule as JSON Schema: one branch per exercise type, with the content it takes."""
    return [
        {"properties": {"exercise_type": {"enum": [str(kind)]}, "content": schema}} for kind, schema in SCHEMAS.items()
    ]


@dataclass(frozen=True)
class ContentProblem:
    """What is wrong with a content, the rule it breaks (schema, key, feedback, stress, duplicate-item-id), and
    where: the keys and indexes from the content down to the value at fault (empty for the content as a whole)."""

    rule: str
    message: str
    path: tuple[str | int, ...] = ()


def content_errors(exercise_type: str, content: object) -> list[str]:
    """Return what is wrong with `content` for an exercise of `exercise_type` (empty when valid)."""
    return [problem.message for problem in content_problems(exercise_type, content)]


def content_problems(exercise_type: str, content: object) -> list[ContentProblem]:
    """The schema's verdict, then the rules JSON Schema cannot state (checked on content that fits the schema)."""
    validator = _VALIDATORS.get(exercise_type)
    if validator is None:
        return []  # An unknown type is reported by the choice validation of exercise_type.
    problems = [
        ContentProblem(
            "schema",
            f"content{''.join(f'[{p!r}]' for p in error.absolute_path)}: {error.message}",
            tuple(error.absolute_path),
        )
        for error in sorted(validator.iter_errors(content), key=lambda e: [str(p) for p in e.absolute_path])
    ]
    return problems or [*_item_problems(content), *_duplicate_id_problems(content)]


def item_paths(content: object) -> Iterator[tuple[tuple[str, int], dict]]:
    """Yield ((list, index), item) for every item of a content, e.g. (("items", 2), {...})."""
    if not isinstance(content, dict):
        return
    for step in ("items", *MINIMAL_PAIR_STEPS):
        entries = content.get(step)
        for index, item in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(item, dict):
                yield (step, index), item


def items_of(content: object) -> Iterator[tuple[str, dict]]:
    """Yield (path, item) for every item of a content, e.g. ("items[2]", {...}); what is not an item is skipped."""
    for (step, index), item in item_paths(content):
        yield f"{step}[{index}]", item


def accepted_answers(item: dict) -> list[str]:
    """Every answer an item counts as right: its key and the alternatives (empty for open tasks)."""
    return [item["answer"], *item.get("also_accepted", [])] if "answer" in item else []


def recordings_summary(content: object) -> str:
    """What a curator needs to know of an exercise's recordings: "" when none of its items takes one."""
    items = [item for _, item in items_of(content) if "audio" in item] if isinstance(content, dict) else []
    if not items:
        return ""
    recorded = {accent: sum(any(r["accent"] == accent for r in item["audio"]) for item in items) for accent in ACCENTS}
    if not any(recorded.values()):
        return f"no recordings ({len(items)} items)"
    return ", ".join(f"{accent} {count} of {len(items)}" for accent, count in recorded.items())


def _item_problems(content: dict) -> Iterator[ContentProblem]:
    for (step, index), item in item_paths(content):
        path = f"{step}[{index}]"
        options = item.get("options", [])
        if "options" in item and item["answer"] not in options:
            message = f"content.{path}['answer']: {item['answer']!r} is not one of its options"
            yield ContentProblem("key", message, (step, index, "answer"))
        for number, entry in enumerate(item.get("stress", [])):
            if entry["stressed"] >= len(entry["syllables"]):
                message = f"content.{path}['stress']: {entry['word']!r} has no syllable {entry['stressed']}"
                yield ContentProblem("stress", message, (step, index, "stress", number, "stressed"))
        for distractor in item.get("feedback", {}):
            if distractor not in options or distractor == item["answer"]:
                message = f"content.{path}['feedback']: {distractor!r} is not one of its distractors"
                yield ContentProblem("feedback", message, (step, index, "feedback", distractor))


def _duplicate_id_problems(content: dict) -> Iterator[ContentProblem]:
    seen: dict[str, str] = {}
    for (step, index), item in item_paths(content):
        path = f"{step}[{index}]"
        if item["id"] in seen:
            message = f"content.{path}['id']: {item['id']!r} is also the id of {seen[item['id']]}"
            yield ContentProblem("duplicate-item-id", message, (step, index, "id"))
        seen.setdefault(item["id"], path)
