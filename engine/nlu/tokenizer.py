"""Unicode-aware tokenizer that keeps character offsets.

A token is one of:

* a *word*: letters, digits, underscores and combining marks (so accented and Indic words stay
  whole), with inner apostrophes, hyphens and dots joining parts (``don't``, ``e-mail``,
  ``12.50``, ``example.com``) and commas joining digit groups (``1,000``);
* a single CJK ideograph or kana character (those scripts do not separate words with spaces);
* any other single non-space character (punctuation, currency signs, emoji...).

Offsets always refer to the original text; :attr:`Token.lower` is the case-folded form used for
features.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

__all__ = ["WORD_PATTERN", "Token", "tokenize", "word_tokens"]


def _mark_ranges() -> str:
    """Character-class body for all combining marks (Mn, Mc, Me) plus the zero-width joiners."""
    parts: list[str] = []
    start: int | None = None
    for cp in range(0x20000):
        is_mark = unicodedata.category(chr(cp))[0] == "M"
        if is_mark and start is None:
            start = cp
        elif not is_mark and start is not None:
            parts.append(_range(start, cp - 1))
            start = None
    if start is not None:
        parts.append(_range(start, 0x1FFFF))
    parts.append(_range(0xE0100, 0xE01EF))  # variation selectors supplement
    parts.append(_range(0x200C, 0x200D))  # ZWNJ / ZWJ occur inside words in several scripts
    return "".join(parts)


def _range(lo: int, hi: int) -> str:
    return re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}"


# Scripts written without spaces between words: one token per character.
_CJK = (
    "\u3040-\u30ff"  # hiragana, katakana
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uf900-\ufaff"  # compatibility ideographs
    "\U00020000-\U0002ffff"  # extensions B..
)
_MARKS = _mark_ranges()
# A word character: \w minus CJK, or a combining mark.
_WCHAR = f"(?:[^\\W{_CJK}]|[{_MARKS}])"
_WORD = f"{_WCHAR}+(?:(?:['\u2019.\\-]|(?<=\\d),(?=\\d)){_WCHAR}+)*"

#: Regular expression (string) matching one word token; usable as scikit-learn ``token_pattern``.
WORD_PATTERN = f"(?:{_WORD}|[{_CJK}])"
_TOKEN_RE = re.compile(f"{WORD_PATTERN}|[^\\s{_MARKS}]|[{_MARKS}]+")
_WORD_RE = re.compile(WORD_PATTERN)


class Token(NamedTuple):
    text: str
    start: int
    end: int

    @property
    def lower(self) -> str:
        return self.text.lower()

    @property
    def is_word(self) -> bool:
        return _WORD_RE.fullmatch(self.text) is not None


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens (words, CJK characters and single symbols) with offsets."""
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]


@lru_cache(maxsize=1024)
def _cached_word_tokens(text: str) -> tuple[Token, ...]:
    return tuple(Token(m.group(), m.start(), m.end()) for m in _WORD_RE.finditer(text))


def word_tokens(text: str) -> list[Token]:
    """Only the word tokens of ``text`` (no punctuation or symbols)."""
    return list(_cached_word_tokens(text))
