"""Grading a learner's answers against an exercise's keys.

An answer is right when it matches the key or an accepted alternative once both are read the same way:
case, spaces around and inside, final punctuation, curly or straight apostrophes, quotation marks (single or
double, around words that keep their contractions: 'it's late' = "it is late"), and common
contractions (don't = do not, it's = it is or it has, I'd = I would or I had) do not change the verdict.
A choice is the option sent, or the one option it reads as. Open tasks (a model answer and criteria, speaking,
repeating) have no key: the client scores them.
"""

import itertools
import re
import unicodedata
from dataclasses import dataclass

from tutor.exercise_content import accepted_answers, items_of

# Contractions and what they stand for; "'s" and "'d" stand for two things each.
_NEGATIONS = {
    "won't": ("will not",),
    "can't": ("cannot", "can not"),
    "shan't": ("shall not",),
    "ain't": ("am not", "is not", "are not"),
}
_ENDINGS = {
    "n't": (" not",),
    "'re": (" are",),
    "'ve": (" have",),
    "'ll": (" will",),
    "'m": (" am",),
    "'d": (" would", " had"),
}
# 's is "is" or "has" after these words; after a noun it is usually possessive, which it stays.
_S_AFTER = frozenset({"it", "he", "she", "that", "there", "here", "what", "who", "where", "how", "when", "why"})
_QUOTES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "“": '"', "”": '"'})  # noqa: RUF001
_FINAL_PUNCTUATION = re.compile(r"[\s.!?…,;:]+$")
_WORD = re.compile(r"[\w']+|[^\w\s']")
# Characters a keyboard or a paste may slip in unseen: zero-width spaces and joiners, word joiner, BOM, soft hyphen.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
# Marks inside an answer that do not change it: a comma more or less, quotation marks.
_IGNORED_MARKS = frozenset(',;:"')
# Readings of one answer are combined word by word; an answer of many ambiguous contractions keeps this many.
MAX_READINGS = 64


@dataclass(frozen=True)
class ItemVerdict:
    id: str
    correct: bool
    expected: str
    explanation: str | None


@dataclass(frozen=True)
class Grade:
    """The verdict on each keyed item (in the exercise's order) and the share of them answered right."""

    items: list[ItemVerdict]

    @property
    def score(self) -> float | None:
        return sum(item.correct for item in self.items) / len(self.items) if self.items else None


def keyed_items(content: object) -> dict[str, dict]:
    """The items of a content that have a key, by id."""
    return {item["id"]: item for _, item in items_of(content) if "answer" in item and "id" in item}


def grade(content: object, answers: dict[str, str]) -> Grade:
    """Grade `answers` (by item id) against every keyed item of `content`; an item left unanswered is wrong."""
    verdicts = []
    for item_id, item in keyed_items(content).items():
        given = answers.get(item_id)
        verdicts.append(
            ItemVerdict(
                id=item_id,
                correct=given is not None and is_right(item, given),
                expected=item["answer"],
                explanation=item.get("explanation"),
            )
        )
    return Grade(verdicts)


def is_right(item: dict, given: str) -> bool:
    """Whether `given` answers a keyed item. A choice is the option sent as it is written, or the one option
    it can be read as (options may differ only in case: FOR-ty, for-TY)."""
    heard = readings(given)
    options = item.get("options")
    if options is None:
        return any(not heard.isdisjoint(readings(answer)) for answer in accepted_answers(item))
    if given in options:
        return given == item["answer"]
    return [option for option in options if not heard.isdisjoint(readings(option))] == [item["answer"]]


def readings(answer: str) -> frozenset[str]:
    """Every way `answer` can be read once case, spacing, punctuation, quotes and contractions are set aside."""
    # One spelling of each character (é typed as e + accent, full-width letters), and no invisible ones.
    composed = unicodedata.normalize("NFKC", answer).translate(_INVISIBLE)
    text = _FINAL_PUNCTUATION.sub("", composed.translate(_QUOTES).casefold().strip())
    choices = [_word_readings(word) for word in _unquoted(_WORD.findall(text)) if word not in _IGNORED_MARKS]
    combined = itertools.islice(itertools.product(*choices), MAX_READINGS)
    return frozenset(" ".join(" ".join(words).split()) for words in combined)


def _unquoted(words: list[str]) -> list[str]:
    """The words without single quotation marks: an apostrophe opening a word opens a quotation, one ending
    a word closes the open one, a lone one opens or closes. An apostrophe ending a word outside a quotation
    stays (the girls' coats)."""
    unquoted, quoted = [], False
    for word in words:
        if not word.strip("'"):
            quoted = not quoted
            continue
        if word.startswith("'"):
            word, quoted = word.lstrip("'"), True
        if quoted and word.endswith("'"):
            word, quoted = word.rstrip("'"), False
        unquoted.append(word)
    return unquoted


def _word_readings(word: str) -> tuple[str, ...]:
    if word in _NEGATIONS:
        return _NEGATIONS[word]
    for ending, meanings in _ENDINGS.items():
        if word.endswith(ending) and len(word) > len(ending):
            stem = word[: -len(ending)]
            return (word, *(stem + meaning for meaning in meanings))
    if word.endswith("'s") and word[:-2] in _S_AFTER:
        return (word, f"{word[:-2]} is", f"{word[:-2]} has")
    if word == "let's":
        return (word, "let us")
    if word == "cannot":
        return ("cannot", "can not")
    return (word,)
