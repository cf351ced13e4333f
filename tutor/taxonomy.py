"""The error taxonomy and the exercise vocabulary, defined once for the whole project.

Codes and labels are the reference system's: clients send the codes, and generate-exercise
prints the labels exactly as written here.
"""

from django.db import models
from django.db.models import Q


class ErrorCategory(models.IntegerChoices):
    GRAMMAR = 1, "Grammar"
    VOCABULARY = 2, "Vocabulary"
    PRONUNCIATION = 3, "Pronunciation"
    FLUENCY = 4, "Fluency/Content"


class ErrorSubCategory(models.IntegerChoices):
    PRONOUN = 1, "Pronoun"
    ADVERB = 2, "Adverb"
    TENSE = 3, "Tense"
    SUBJECT_VERB_AGREEMENT = 4, "Subject_Verb_Agreement"
    WRONG_WORD = 5, "Wrong_Word"
    APOSTROPHE = 6, "Apostrophe"
    PLURAL = 7, "Plural"
    MISPRONOUNCED_SYLLABLE = 8, "Mispronounced_Syllable"
    MISPRONOUNCED_WORD = 9, "Mispronounced_Word"
    INCOHERENT = 10, "Incoherent"
    REPETITION = 11, "Repetition"
    LACK_OF_CONTENT = 12, "Lack_of_Content"


SUBCATEGORIES_BY_CATEGORY: dict[int, tuple[int, ...]] = {
    ErrorCategory.GRAMMAR: (1, 2, 3, 4),
    ErrorCategory.VOCABULARY: (5, 6, 7),
    ErrorCategory.PRONUNCIATION: (8, 9),
    ErrorCategory.FLUENCY: (10, 11, 12),
}

# The two fields that name a pair wherever one is stored or sent.
PAIR_FIELDS = ("errorCategory", "errorSubCategory")

CATEGORY_OF: dict[int, int] = {sub: category for category, subs in SUBCATEGORIES_BY_CATEGORY.items() for sub in subs}


class CEFRLevel(models.TextChoices):
    A1 = "A1"
    A2 = "A2"
    B1 = "B1"
    B2 = "B2"
    C1 = "C1"
    C2 = "C2"


LEVEL_RANK = {level: rank for rank, level in enumerate(CEFRLevel.values)}


class ExerciseType(models.TextChoices):
    GAP_FILL = "gap_fill", "Gap fill"
    SENTENCE_CORRECTION = "sentence_correction", "Sentence correction"
    MULTIPLE_CHOICE = "multiple_choice", "Multiple choice"
    MINIMAL_PAIRS = "minimal_pairs", "Minimal pairs"
    REPEAT_AFTER_ME = "repeat_after_me", "Repeat after me"
    SPEAKING_PROMPT = "speaking_prompt", "Speaking prompt"
    RETELLING = "retelling", "Retelling"


def pair_labels(subcategory: int) -> dict[str, str]:
    """Name a pair by its labels, as generate-exercise prints them."""
    return {
        "errorCategory": ErrorCategory(CATEGORY_OF[subcategory]).label,
        "errorSubCategory": ErrorSubCategory(subcategory).label,
    }


def pair_error(category: int, subcategory: int) -> str | None:
    """Return why (category, subcategory) is not a valid pair, or None when it is."""
    expected = CATEGORY_OF.get(subcategory)
    if expected is None or category not in SUBCATEGORIES_BY_CATEGORY or expected == category:
        # Unknown codes are reported by the choice validation of each field.
        return None
    allowed = ", ".join(f"{sub} {ErrorSubCategory(sub).label}" for sub in SUBCATEGORIES_BY_CATEGORY[category])
    return (
        f"errorSubCategory {subcategory} ({ErrorSubCategory(subcategory).label}) belongs to "
        f"errorCategory {expected} ({ErrorCategory(expected).label}), not {category} "
        f"({ErrorCategory(category).label}). Allowed for {ErrorCategory(category).label}: {allowed}."
    )


def pair_check() -> Q:
    """Return the condition a database check constraint uses to keep bad pairs out."""
    condition = Q()
    for category, subs in SUBCATEGORIES_BY_CATEGORY.items():
        condition |= Q(errorCategory=category, errorSubCategory__in=subs)
    return condition


def pair_schema() -> list[dict]:
    """Return the pair rule as JSON Schema: one branch per category, with the subcategories it allows."""
    return [
        {"properties": {"errorCategory": {"enum": [int(category)]}, "errorSubCategory": {"enum": list(subs)}}}
        for category, subs in SUBCATEGORIES_BY_CATEGORY.items()
    ]
