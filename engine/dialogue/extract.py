"""Slot values and conversational moves read from free text, without a language model.

What an LLM command generator reads from a message, done with rules and small parsers:

* `value_for(slot, text, hint)`: the value a message gives for one slot, by the slot's type —
  numbers and amounts, written in digits or in words (``"fifty"`` -> 50, through ``text2num``);
  booleans from yes/no phrasing; categorical values and their synonyms, matched fuzzily
  (``rapidfuzz``); dates and times for slots whose name or description speaks of them
  (``dateparser``); text slots as the value span, not the whole sentence (``"to Basel"`` ->
  ``"Basel"``, ``"it's @barts"`` -> ``"@barts"``).
* `mentioned_value(slot, text, hint)`: a value for a slot that is not being asked for, only when
  the message names it unambiguously (a categorical value, an amount with a currency, a handle,
  a date, a capitalised name after "to" for slots about a recipient).
* `correction_phrase`, `is_cancel`, `move`: corrections ("I meant Joe"), cancellations, and the
  moves that are not about slots (skip a question, human handoff, repeat, restart, chitchat,
  a knowledge question).

`hint` is what the flow says about the slot (the collect step's description) besides its name.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from functools import cache
from typing import Any

from rapidfuzz import fuzz
from text_to_num import alpha2digit, text2num

from engine.formats import Slot

__all__ = [
    "correction_phrase",
    "is_cancel",
    "mentioned_value",
    "move",
    "number_in",
    "numbers_in",
    "text_span",
    "value_for",
    "yes_no",
]

_NUMBER = re.compile(r"(?<![\w@])[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s?[kK]\b)?")
_CURRENCY = re.compile(
    r"[$€£¥₹]|\b(?:dollars?|usd|eur|euros?|gbp|pounds?|chf|francs?|bucks|yen|rupees?|cents?)\b",
    re.IGNORECASE,
)
_HANDLE = re.compile(r"(?<!\w)@[\w.\-]+")
_WORD = re.compile(r"[\w']+", re.UNICODE)
_PUNCT = " \t\n.,!?;:\"'()[]"

_YES = (
    "yes",
    "y",
    "yeah",
    "yep",
    "yup",
    "ya",
    "sure",
    "ok",
    "okay",
    "of course",
    "absolutely",
    "definitely",
    "correct",
    "right",
    "that's right",
    "that is right",
    "affirmative",
    "true",
    "confirm",
    "confirmed",
    "go ahead",
    "do it",
    "please do",
    "sounds good",
    "i do",
    "i am",
    "it is",
    "indeed",
)
_NO = (
    "no",
    "n",
    "nope",
    "nah",
    "not really",
    "negative",
    "false",
    "don't",
    "do not",
    "i don't",
    "not at all",
    "no way",
    "never",
    "wrong",
    "incorrect",
    "i do not",
    "not now",
)
_YES_NO_TAIL = re.compile(
    r"^(?P<head>.+?)(?:[\s,!.]+(?:please|thanks|thank you|i do|it is|go ahead|do it|that's all))*$"
)

#: Words before a value that belong to the sentence, not to the value ("it's @barts",
#: "to Basel", "I meant Joe", "just Bart", "my name is Ada").
_LEAD = re.compile(
    r"^(?:(?:well|um+|uh+|so|and|oh|hmm+|ok|okay|yes|yeah|sure|no|sorry|please)[,\s]+)*"
    r"(?:(?:i\s+meant|i\s+mean|actually|instead|rather|make\s+it|make\s+that|change\s+it\s+to|"
    r"it'?s|it\s+is|it\s+was|that'?s|that\s+is|this\s+is|they'?re|he'?s|she'?s|"
    r"my\s+\w+\s+is|the\s+\w+\s+is|his\s+\w+\s+is|her\s+\w+\s+is|their\s+\w+\s+is|"
    r"i'?m|i\s+am|i\s+want|i'?d\s+like|i\s+would\s+like|call\s+me|let'?s\s+say|say|"
    r"send\s+it\s+to|to|for|from|at|in|on|by|with|just|only|simply)\b[\s,:]*)*",
    re.IGNORECASE,
)
_TRAIL = re.compile(
    r"(?:[\s,]+(?:please|thanks|thank\s+you|thx|then|instead|actually|i\s+think|maybe|"
    r"for\s+now|if\s+possible|that'?s\s+it|that'?s\s+all))+$",
    re.IGNORECASE,
)

_CORRECTION = re.compile(
    r"^(?:(?:no|nope|sorry|oops|wait|oh)[,.!\s]+)*(?:"
    r"i\s+meant|i\s+mean|actually(?:\s+it'?s|\s+it\s+is|\s+make\s+it)?|"
    r"(?:please\s+)?(?:make|change)\s+(?:it|that|the\s+\w+(?:\s+\w+)?)(?:\s+(?:to|into))?|"
    r"(?:please\s+)?(?:correct|update|set)\s+(?:it|that|the\s+\w+(?:\s+\w+)?)\s+to|"
    r"not\s+[^,]+,?\s+but|instead\s+(?:of\s+[^,]+,?\s*)?|rather"
    r")\s+(?P<value>.+)$",
    re.IGNORECASE,
)
_CANCEL = re.compile(
    r"^(?:(?:no|oh|ok|okay|actually|please|um+|hmm+)[,.!\s]+)*(?:"
    r"cancel(?:\s+(?:it|that|this|the\s+\w+|everything|please|my\s+request))?|"
    r"stop(?:\s+(?:it|that|this|please))?|abort|quit|exit|"
    r"never\s*mind|nevermind|forget\s+(?:it|about\s+it|that|this)|"
    r"i\s+(?:have\s+)?changed\s+my\s+mind|"
    r"i\s+(?:don'?t|do\s+not)\s+want\s+(?:to\s+(?:do\s+)?(?:this|that|it)|it|that|this)(?:\s+any\s*more)?|"
    r"(?:let'?s\s+)?(?:not|drop\s+(?:it|that|this))|scratch\s+that"
    r")[\s.!]*(?:please|thanks)?[\s.!]*$",
    re.IGNORECASE,
)

_MOVES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "human handoff",
        re.compile(
            r"\b(?:(?:talk|speak|chat|connect\s+me|put\s+me\s+through)\s+(?:to|with)\s+"
            r"(?:a|an|some|the|your)?\s*(?:real\s+|live\s+)?(?:human|person|agent|operator|"
            r"representative|someone|somebody|staff|customer\s+service|support)|"
            r"human\s+agent|real\s+person|live\s+agent|hand\s+(?:me\s+)?over)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "skip question",
        re.compile(
            r"^(?:(?:please|can\s+we|can\s+i|let'?s|i'?d\s+like\s+to|i\s+want\s+to)\s+)?"
            r"(?:skip(?:\s+(?:it|this|that|this\s+(?:one|question|step)|the\s+question))?|"
            r"next\s+question|pass|i'?d\s+rather\s+not\s+(?:say|answer))[\s.!]*(?:please)?[\s.!]*$",
            re.IGNORECASE,
        ),
    ),
    (
        "repeat",
        re.compile(
            r"^(?:(?:sorry|pardon|what|huh)[,?!.\s]*)*(?:"
            r"(?:can|could|would)\s+you\s+(?:please\s+)?(?:repeat|say)(?:\s+(?:that|it|this))?"
            r"(?:\s+again)?|repeat(?:\s+(?:that|it|yourself|please|the\s+question))?|"
            r"say\s+(?:that|it)\s+again|come\s+again|what\s+did\s+you\s+(?:just\s+)?say|"
            r"pardon|i\s+didn'?t\s+(?:get|catch|hear)\s+(?:that|it|you))[\s?!.]*(?:please)?[\s?!.]*$",
            re.IGNORECASE,
        ),
    ),
    (
        "restart",
        re.compile(
            r"^(?:please\s+|let'?s\s+)?(?:restart(?:\s+(?:the\s+)?conversation)?|start\s+over|"
            r"start\s+again|start\s+from\s+scratch|reset(?:\s+(?:the\s+)?conversation)?)"
            r"[\s.!]*(?:please)?[\s.!]*$",
            re.IGNORECASE,
        ),
    ),
    (
        "chitchat",
        re.compile(
            r"^(?:(?:hi|hello|hey|hiya|howdy|yo|good\s+(?:morning|afternoon|evening|day)|"
            r"greetings|thanks|thank\s+you(?:\s+(?:so|very)\s+much)?|thx|cheers|cool|nice|"
            r"great|awesome|lol|haha+|ok|okay|bye|goodbye|see\s+you|ciao|"
            r"how\s+are\s+you(?:\s+doing)?(?:\s+today)?|how'?s\s+it\s+going|what'?s\s+up|"
            r"who\s+are\s+you|what\s+are\s+you|are\s+you\s+(?:a\s+)?(?:bot|robot|human|real)|"
            r"what(?:'?s|\s+is)\s+your\s+name|tell\s+me\s+a\s+joke|you(?:'re|\s+are)\s+\w+|i\s+love\s+you|"
            r"nice\s+to\s+meet\s+you|have\s+a\s+(?:nice|good|great)\s+day|there|everyone|all|"
            r"buddy|mate|friend|again|bot)[\s,.!?]*)+$",
            re.IGNORECASE,
        ),
    ),
)
_QUESTION_START = re.compile(
    r"^(?:what|whats|what's|how|why|when|where|who|whom|which|whose|can|could|do|does|did|is|"
    r"are|was|were|will|would|should|shall|may|might|have|has|tell\s+me|explain|"
    r"i\s+(?:want|would\s+like|need)\s+to\s+know|i\s+wonder)\b",
    re.IGNORECASE,
)

_DATE_WORDS = re.compile(r"\b(?:date|day|when|deadline|birthday|dob)\b", re.IGNORECASE)
_TIME_WORDS = re.compile(r"\b(?:time|hour|when|o'?clock)\b", re.IGNORECASE)
_HANDLE_WORDS = re.compile(r"(?:handle|@|username|user\s+name)", re.IGNORECASE)
_PERSON_WORDS = re.compile(
    r"(?:recipient|payee|beneficiary|receiver|person|friend|contact|account|to\s+whom)",
    re.IGNORECASE,
)
#: Words that say a date or a time is meant (a bare number is an amount, not a date).
_DATE_MENTION = re.compile(
    r"\b(?:today|tonight|tomorrow|yesterday|next|this|last|monday|tuesday|wednesday|thursday|"
    r"friday|saturday|sunday|january|february|march|april|may|june|july|august|september|"
    r"october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|noon|"
    r"midnight|morning|evening|afternoon)\b|\d{1,2}[/.\-]\d{1,2}|\d{4}-\d{2}-\d{2}|"
    r"\d{1,2}(?::\d{2})?\s*(?:am|pm)\b|\b\d{1,2}:\d{2}\b|\d{1,2}(?:st|nd|rd|th)\b",
    re.IGNORECASE,
)
_TO_NAME = re.compile(r"\bto\s+(?P<name>[A-Z][\w'\-]*(?:\s+[A-Z][\w'\-]*)?)")
_NOT_NAMES = {"I", "I'm", "I'd", "My", "The", "A", "An", "It", "Me", "Us", "You", "Your"}


# -- words ----------------------------------------------------------------------------------


def _clean(text: str) -> str:
    return " ".join(text.strip().strip(_PUNCT).split())


def _phrase(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def yes_no(text: str) -> bool | None:
    """True for a yes, False for a no ("yes please", "nope", "of course"), else None."""
    phrase = _phrase(text)
    if not phrase:
        return None
    candidates = [phrase]
    match = _YES_NO_TAIL.match(phrase)
    if match:
        candidates.append(match.group("head"))
    for candidate in candidates:
        if candidate in _YES:
            return True
        if candidate in _NO:
            return False
    words = phrase.split()
    first = words[0]
    if len(words) <= 4 and first in ("yes", "yeah", "yep", "sure", "ok", "okay", "absolutely"):
        return True
    if len(words) <= 4 and first in ("no", "nope", "nah"):
        return False
    return None


# -- numbers --------------------------------------------------------------------------------


def _to_float(token: str) -> float | None:
    token = token.replace(",", "").strip()
    scale = 1.0
    if token[-1:] in ("k", "K"):
        scale, token = 1000.0, token[:-1].strip()
    try:
        value = float(token) * scale
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _digits(text: str) -> str:
    try:
        return str(alpha2digit(text, "en"))
    except (ValueError, TypeError):  # the parser's own errors on odd input
        return text


def numbers_in(text: str) -> list[float]:
    """The numbers in `text`, written in digits or words ("fifty", "two hundred and five")."""
    found = [v for t in _NUMBER.findall(_digits(text)) if (v := _to_float(t)) is not None]
    if not found:
        phrase = _phrase(text)
        words = [w for w in phrase.split() if w not in ("a", "an", "the", "just", "only")]
        if words:
            try:
                found = [float(text2num(" ".join(words), "en"))]
            except ValueError:
                found = []
    return found


def number_in(text: str) -> float | None:
    """The one number in `text`, or None when there is none or more than one."""
    numbers = numbers_in(text)
    return numbers[0] if len(numbers) == 1 else None


def _amount_in(text: str) -> float | None:
    """A number written as an amount of money ("$50", "50 euros")."""
    if not _CURRENCY.search(text):
        return None
    return number_in(text)


# -- categorical ----------------------------------------------------------------------------


def _fuzzy_equal(word: str, value: str) -> bool:
    if word == value:
        return True
    if len(value) < 4 or len(word) < 4:
        return False
    common = len(_common_prefix(word, value))
    if common >= 5 and common >= 0.7 * min(len(word), len(value)):
        return True  # "temporarily" ~ "temporary", "savings" ~ "saving"
    return fuzz.ratio(word, value) >= 88  # typos: "permanant" ~ "permanent"


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def _mentions(phrase: str, value: str, *, exact: bool = False) -> bool:
    """Whether the words of `value` appear in `phrase`, each fuzzily (or `exact`ly), in order
    and together."""
    target = _phrase(value).split()
    words = phrase.split()
    if not target or len(target) > len(words):
        return False
    same = (lambda a, b: a == b) if exact else _fuzzy_equal
    for start in range(len(words) - len(target) + 1):
        window = words[start : start + len(target)]
        if all(same(w, t) for w, t in zip(window, target, strict=True)):
            return True
    return False


#: Words that turn the value after them into its opposite ("not satisfied").
_NEGATIONS = ("not", "never", "isn't", "wasn't", "aren't", "weren't", "not very", "not really")
#: Prefixes that make a value's opposite ("unsatisfied", "dissatisfied").
_OPPOSITE_PREFIXES = ("un", "dis", "in", "not ", "not_", "non", "non ", "non_")


def _negated_value(phrase: str, values: list[Any]) -> Any:
    """The value that a negated mention of another one means: "not satisfied" is
    ``unsatisfied`` when that is a value (None when no value is negated so)."""
    for value in values:
        name = _phrase(str(value))
        if not name or not any(f" {neg} {name} " in f" {phrase} " for neg in _NEGATIONS):
            continue
        for other in values:
            if other != value and any(
                _phrase(str(other)) == _phrase(prefix + str(value)) for prefix in _OPPOSITE_PREFIXES
            ):
                return other
    return None


def categorical_in(text: str, slot: Slot, synonyms: dict[str, list[str]]) -> Any:
    """The one allowed value that `text` names (directly or through a synonym), or None.

    A value named exactly wins over values named only fuzzily ("satisfied" is not
    "unsatisfied"), and a negated value is its opposite when the slot has one ("not
    satisfied" is "unsatisfied")."""
    phrase = _phrase(text)
    values = list(slot.values or [])
    negated = _negated_value(phrase, values)
    if negated is not None:
        return negated

    def named(exact: bool) -> list[Any]:
        return [
            value
            for value in values
            if any(
                _mentions(phrase, name, exact=exact)
                for name in [str(value), *synonyms.get(str(value), [])]
                if _phrase(name)
            )
        ]

    found = named(True) or named(False)
    if len(found) > 1:
        # "self transfer" vs "transfer": the longest mention wins when one contains the other.
        longest = max(found, key=lambda v: len(str(v)))
        if all(_phrase(str(v)) in _phrase(str(longest)) for v in found):
            return longest
        return None
    return found[0] if found else None


# -- dates ----------------------------------------------------------------------------------


@cache
def _date_settings() -> dict[str, Any]:
    return {"PREFER_DATES_FROM": "future", "RETURN_AS_TIMEZONE_AWARE": False}


def _datetime_in(text: str) -> datetime | None:
    from dateparser.search import search_dates  # imported on first use: ~0.2 s to load

    found = search_dates(text, languages=["en"], settings=_date_settings())
    if not found:
        return None
    # The longest mention ("next friday at 3pm" rather than "friday").
    _, value = max(found, key=lambda item: len(item[0]))
    return value if isinstance(value, datetime) else None


def _date_value(text: str, *, date: bool, time: bool) -> str | None:
    if not re.search(r"[a-zA-Z0-9]", text):
        return None
    value = _datetime_in(text)
    if value is None:
        return None
    if date and not time:
        return value.date().isoformat()
    if time and not date:
        return value.strftime("%H:%M")
    return value.isoformat(timespec="minutes")


def _date_kind(slot: Slot, hint: str) -> tuple[bool, bool]:
    """Whether the slot holds a date, a time (or both): its name says, else its description."""
    for about in (slot.name.replace("_", " "), hint):
        date, time = bool(_DATE_WORDS.search(about)), bool(_TIME_WORDS.search(about))
        if date or time:
            return date, time
    return False, False


# -- text -----------------------------------------------------------------------------------


def text_span(text: str) -> str | None:
    """The value in an answer: the words left when the sentence around them is taken away."""
    handles: list[str] = _HANDLE.findall(text)
    if len(handles) == 1:
        return handles[0]
    value = _clean(text)
    for _ in range(3):
        shorter = _clean(_TRAIL.sub("", _LEAD.sub("", value)))
        if shorter == value:
            break
        value = shorter
    return value or None


def _text_value(slot: Slot, text: str, hint: str) -> Any:
    about = f"{slot.name} {hint}"
    if _HANDLE_WORDS.search(about):
        handles = _HANDLE.findall(text)
        if len(handles) == 1:
            return handles[0]
    date, time = _date_kind(slot, hint)
    if date or time:
        value = _date_value(text, date=date, time=time)
        if value is not None:
            return value
    answer = yes_no(text)
    if answer is not None and len(_phrase(text).split()) <= 3:
        return answer  # a yes/no answer to a text slot: "true" / "false"
    return text_span(text)


# -- per slot -------------------------------------------------------------------------------


def value_for(
    slot: Slot, text: str, hint: str = "", synonyms: dict[str, list[str]] | None = None
) -> Any:
    """The value `text` gives for `slot` when the slot is being asked for, or None."""
    kind = slot.type
    if kind == "float":
        return number_in(text)
    if kind == "bool":
        return yes_no(text)
    if kind in ("categorical", "strict_categorical"):
        return categorical_in(text, slot, synonyms or {})
    if kind == "list":
        parts = [text_span(p) for p in re.split(r",|\band\b|&", text)]
        values = [p for p in parts if p]
        return values or None
    if kind in ("text", "any"):
        return _text_value(slot, text, hint)
    return None


def mentioned_value(
    slot: Slot, text: str, hint: str = "", synonyms: dict[str, list[str]] | None = None
) -> Any:
    """A value for `slot` that `text` names without being asked for it, or None."""
    kind = slot.type
    if kind in ("categorical", "strict_categorical"):
        return categorical_in(text, slot, synonyms or {})
    if kind == "float":
        return _amount_in(text)
    if kind not in ("text", "any"):
        return None
    about = f"{slot.name.replace('_', ' ')} {hint}"
    if _HANDLE_WORDS.search(about):
        handles = _HANDLE.findall(text)
        if len(handles) == 1:
            return handles[0]
    date, time = _date_kind(slot, hint)
    if (date or time) and _DATE_MENTION.search(text):
        return _date_value(text, date=date, time=time)
    if _PERSON_WORDS.search(about):
        names = [m.group("name") for m in _TO_NAME.finditer(text)]
        names = [n for n in names if n.split()[0] not in _NOT_NAMES]
        if len(names) == 1:
            return names[0]
    return None


# -- moves ----------------------------------------------------------------------------------


def correction_phrase(text: str) -> str | None:
    """The new value in a correction ("I meant Joe" -> "Joe", "make it 60" -> "60"), or None."""
    match = _CORRECTION.match(_clean(text))
    if match is None:
        return None
    value = _clean(_TRAIL.sub("", match.group("value")))
    return value or None


def is_cancel(text: str) -> bool:
    """Whether the message cancels what is going on ("cancel", "never mind", "stop")."""
    return bool(_CANCEL.match(_clean(text)))


def is_question(text: str) -> bool:
    cleaned = text.strip()
    return cleaned.endswith("?") or bool(_QUESTION_START.match(cleaned))


def move(text: str) -> str | None:
    """The command name of a move that is not about slots or flows, or None: ``human
    handoff``, ``skip question``, ``repeat``, ``restart``, ``chitchat``."""
    cleaned = _clean(text)
    if not cleaned:
        return None
    for name, pattern in _MOVES:
        if pattern.search(cleaned):
            return name
    return None
