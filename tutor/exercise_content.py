"""The shape of an exercise's `content` for each exercise type, checked with JSON Schema.

Clients render exercises from `content`, so a malformed one would break a learner's screen;
every entry point (API, admin, fixtures test) validates it here.
"""

from jsonschema import Draft202012Validator

from tutor.taxonomy import ExerciseType
from tutor.text import VISIBLE_TEXT

# Text a learner reads: at least one visible character, and never NUL (PostgreSQL's JSON cannot hold it).
_TEXT = {"type": "string", "minLength": 1, "pattern": VISIBLE_TEXT}
_TEXTS = {"type": "array", "items": _TEXT, "minItems": 1}


def _items(properties: dict, required: list[str]) -> dict:
    return {
        "type": "object",
        "required": ["items"],
        "additionalProperties": False,
        "properties": {
            "items": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": required,
                    "additionalProperties": False,
                    "properties": properties,
                },
            },
            "tip": _TEXT,
        },
    }


SCHEMAS: dict[str, dict] = {
    ExerciseType.GAP_FILL: _items(
        {
            "prompt": {"type": "string", "pattern": r"^[^\x00]*___[^\x00]*$"},  # a gap, and no NUL
            "answer": _TEXT,
            "also_accepted": _TEXTS,
            "explanation": _TEXT,
        },
        ["prompt", "answer"],
    ),
    ExerciseType.SENTENCE_CORRECTION: _items(
        {"sentence": _TEXT, "answer": _TEXT, "explanation": _TEXT},
        ["sentence", "answer"],
    ),
    ExerciseType.MULTIPLE_CHOICE: _items(
        {
            "question": _TEXT,
            "options": {"type": "array", "items": _TEXT, "minItems": 2, "maxItems": 6},
            "answer": _TEXT,
            "explanation": _TEXT,
        },
        ["question", "options", "answer"],
    ),
    ExerciseType.REPEAT_AFTER_ME: _items({"text": _TEXT, "guide": _TEXT}, ["text"]),
    ExerciseType.MINIMAL_PAIRS: {
        "type": "object",
        "required": ["focus", "pairs"],
        "additionalProperties": False,
        "properties": {
            "focus": _TEXT,
            "pairs": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "array", "items": _TEXT, "minItems": 2, "maxItems": 2},
            },
            "sentences": _TEXTS,
            "tip": _TEXT,
        },
    },
    ExerciseType.SPEAKING_PROMPT: {
        "type": "object",
        "required": ["prompt"],
        "additionalProperties": False,
        "properties": {
            "prompt": _TEXT,
            "useful_language": _TEXTS,
            "model_answer": _TEXT,
            "duration_seconds": {"type": "integer", "minimum": 10, "maximum": 600},
        },
    },
    ExerciseType.RETELLING: {
        "type": "object",
        "required": ["source_text", "prompt"],
        "additionalProperties": False,
        "properties": {
            "source_text": _TEXT,
            "prompt": _TEXT,
            "key_points": _TEXTS,
            "model_answer": _TEXT,
        },
    },
}

_VALIDATORS = {kind: Draft202012Validator(schema) for kind, schema in SCHEMAS.items()}
# The content's shape depends on the type: the two are sent, checked and changed together.
CONTENT_FIELDS = ("exercise_type", "content")


def content_schema() -> list[dict]:
    """Return the rule as JSON Schema: one branch per exercise type, with the content it takes."""
    return [
        {"properties": {"exercise_type": {"enum": [str(kind)]}, "content": schema}} for kind, schema in SCHEMAS.items()
    ]


def content_errors(exercise_type: str, content: object) -> list[str]:
    """Return what is wrong with `content` for an exercise of `exercise_type` (empty when valid)."""
    validator = _VALIDATORS.get(exercise_type)
    if validator is None:
        return []  # An unknown type is reported by the choice validation of exercise_type.
    problems = [
        f"content{''.join(f'[{p!r}]' for p in error.absolute_path)}: {error.message}"
        for error in sorted(validator.iter_errors(content), key=lambda e: [str(p) for p in e.absolute_path])
    ]
    if not problems and exercise_type == ExerciseType.MULTIPLE_CHOICE:
        problems = [
            f"content['items'][{i}]['answer']: {item['answer']!r} is not one of its options"
            for i, item in enumerate(content["items"])
            if item["answer"] not in item["options"]
        ]
    return problems
