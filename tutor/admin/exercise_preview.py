"""The exercise as a learner sees it, beside its answer key: shown on the exercise's admin page.

The preview draws whatever content it is given, valid or not (it follows the form while the curator
edits), so it reads every value defensively: what is missing or malformed is left out.
"""

from dataclasses import dataclass, field

from django.template.loader import render_to_string

from tutor.exercise_content import MINIMAL_PAIR_STEPS
from tutor.taxonomy import ExerciseType

PREVIEW_TEMPLATE = "admin/tutor/exercise/preview.html"
GAP = "___"
_STEP_NAMES = {
    "items": "Items",
    "identify": "Step 1: listen and identify",
    "pairs": "Step 2: say the pairs",
    "sentences": "Step 3: say the sentences",
}


@dataclass
class Step:
    """One list of items as the learner meets it (most types have one; minimal pairs have three)."""

    key: str
    name: str
    items: list[dict] = field(default_factory=list)


def preview_context(*, exercise_type: str, instructions: str, content: object) -> dict:
    """Return what the preview template needs for one exercise."""
    content = content if isinstance(content, dict) else {}
    keys = MINIMAL_PAIR_STEPS if exercise_type == ExerciseType.MINIMAL_PAIRS else ("items",)
    steps = [Step(key, _STEP_NAMES[key], [_item(entry) for entry in _dicts(content.get(key))]) for key in keys]
    return {
        "exercise_type": exercise_type,
        "instructions": instructions,
        "content": content,
        "steps": [step for step in steps if step.items],
        "duration": _duration(content.get("duration_seconds")),
        "useful_language": _texts(content.get("useful_language")),
        "criteria": _texts(content.get("criteria")),
        "key_points": _texts(content.get("key_points")),
    }


def render_preview(*, exercise_type: str, instructions: str, content: object) -> str:
    """Return the preview's HTML (the panel the change page shows and the live preview replaces)."""
    return render_to_string(
        PREVIEW_TEMPLATE, preview_context(exercise_type=exercise_type, instructions=instructions, content=content)
    )


def _item(item: dict) -> dict:
    prompt = item.get("prompt")
    before, gap, after = prompt.partition(GAP) if isinstance(prompt, str) else ("", "", "")
    answer = item.get("answer")
    feedback = item.get("feedback") if isinstance(item.get("feedback"), dict) else {}
    return {
        **item,
        "gap": {"before": before, "after": after} if gap else None,
        "options": _texts(item.get("options")),
        "also_accepted": _texts(item.get("also_accepted")),
        "criteria": _texts(item.get("criteria")),
        "choices": [
            {"text": option, "right": option == answer, "feedback": feedback.get(option, "")}
            for option in _texts(item.get("options"))
        ],
        "audio": [entry for entry in _dicts(item.get("audio")) if isinstance(entry.get("url"), str)],
        "takes_audio": "audio" in item,
        "ipa": ", ".join(_texts(item["ipa"])) if isinstance(item.get("ipa"), list) else item.get("ipa", ""),
        "stress": [_stress(entry) for entry in _dicts(item.get("stress"))],
    }


def _stress(entry: dict) -> dict:
    syllables = _texts(entry.get("syllables"))
    stressed = entry.get("stressed")
    marked = [s.upper() if index == stressed else s for index, s in enumerate(syllables)]
    return {"word": entry.get("word", ""), "marked": "-".join(marked)}


def _duration(seconds: object) -> str:
    if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds <= 0:
        return ""
    minutes, rest = divmod(seconds, 60)
    return " ".join(part for part in (f"{minutes} min" if minutes else "", f"{rest} s" if rest else "") if part)


def _dicts(value: object) -> list[dict]:
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def _texts(value: object) -> list[str]:
    return [entry for entry in value if isinstance(entry, str)] if isinstance(value, list) else []
