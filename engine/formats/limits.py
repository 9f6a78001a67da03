"""How long the text people type may be: one place for the forms and for import checks.

Each limit counts characters. The forms give their fields these ``max_length`` values (the
browser shows "n / max" under each), and an import with longer text is refused with the file,
line and key of each overlong value.

=====================  =====  ======================================================================
Limit                  Chars  Applies to
=====================  =====  ======================================================================
``NAME``                 200  ids and names: flows, responses, slots, actions, intents, entities,
                              lookup tables, tags, assistants, API tokens
``TITLE``                200  display names: a flow's name, a version's name
``DESCRIPTION``         2000  descriptions: flows, steps, actions, intents, assistants, versions
``TEXT``                5000  a response's text, a collect step's question, a chat message
``EXAMPLE``             1000  one NLU training example, one lookup or synonym value
=====================  =====  ======================================================================
"""

from __future__ import annotations

NAME = 200
TITLE = 200
DESCRIPTION = 2000
TEXT = 5000
EXAMPLE = 1000


def too_long(value: object, limit: int) -> str | None:
    """The problem with `value` if it is text longer than `limit`, else None."""
    if isinstance(value, str) and len(value) > limit:
        return f"is {len(value)} characters long; the limit is {limit}"
    return None
