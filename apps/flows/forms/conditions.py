"""Conditions built in a form: slot, operator, value rows joined by and/or, or written out as
text; and a value typed in a form, as the slot holds it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from django import forms

from apps.flows.forms.base import plain, rows
from engine import formats

OPERATORS = [
    ("=", "is"),
    ("!=", "is not"),
    (">", ">"),
    (">=", "≥"),
    ("<", "<"),
    ("<=", "≤"),
    ("contains", "contains"),
    ("matches", "matches"),
    ("is set", "is set"),
    ("is not set", "is not set"),
    ("true", "is true"),
    ("false", "is false"),
]
_VALUELESS = {"is set", "is not set", "true", "false"}


def typed_value(raw: str, slot_type: str | None) -> Any:
    """A value typed in a form, as the slot holds it."""
    text = raw.strip()
    if text.lower() in ("null", "none"):
        return None
    if slot_type == "bool":
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise forms.ValidationError(f"{text!r} is not true or false.")
    if slot_type == "float":
        try:
            number = float(text)
        except ValueError:
            raise forms.ValidationError(f"{text!r} is not a number.") from None
        return int(number) if re.fullmatch(r"[-+]?\d+", text) else number
    return text


@dataclass
class ConditionRow:
    slot: str = ""
    operator: str = "="
    value: str = ""
    #: The values to pick from when the slot is categorical (set for display).
    choices: list[str] | None = None


class ConditionEditor:
    """One condition in a form, under `prefix`: rows `<prefix>-slot/-op/-value`, the
    connective `<prefix>-join`, or the text `<prefix>-text` (which wins when filled)."""

    operators = OPERATORS

    def __init__(
        self,
        prefix: str,
        slots: dict[str, str],
        initial: str | bool | None = None,
        slot_values: dict[str, list] | None = None,
    ):
        self.prefix = prefix
        self.slots = slots
        #: The values of the categorical slots: their value is picked from a list.
        self.slot_values = slot_values or {}
        self.rows: list[ConditionRow] = []
        self.join = "and"
        self.text = ""
        self.error = ""
        if initial is not None and initial != "":
            text = str(initial).lower() if isinstance(initial, bool) else initial
            try:
                decomposed = formats.decompose_condition(text)
            except formats.ConditionError:
                decomposed = None
            if decomposed is None:
                self.text = text
            else:
                clauses, self.join = decomposed
                self.rows = [
                    ConditionRow(c.slot, c.operator, "" if c.value is None else plain(c.value))
                    for c in clauses
                ]

    @property
    def slot_names(self) -> list[str]:
        return sorted(self.slots)

    @property
    def values_json(self) -> str:
        """The categorical slots' values, for the script that swaps the value box for a list."""
        return json.dumps({k: [plain(v) for v in vs] for k, vs in self.slot_values.items()})

    def value_choices(self, row: ConditionRow) -> list[str] | None:
        """The values to pick `row`'s value from (its slot is categorical), else None."""
        values = self.slot_values.get(row.slot)
        if not values:
            return None
        shown = [plain(v) for v in values]
        return shown if not row.value or row.value in shown else [row.value, *shown]

    @property
    def display_rows(self) -> list[ConditionRow]:
        shown = [*self.rows, ConditionRow()] if not self.text else self.rows
        for row in shown:
            row.choices = self.value_choices(row)
        return shown

    def read(self, data) -> str | None:
        """The condition text from the submitted form (None when left empty); sets `error`."""
        self.text = (data.get(f"{self.prefix}-text") or "").strip()
        self.join = data.get(f"{self.prefix}-join") or "and"
        self.rows = [
            ConditionRow(slot, op or "=", value)
            for slot, op, value in rows(
                data, f"{self.prefix}-slot", f"{self.prefix}-op", f"{self.prefix}-value"
            )
            if slot
        ]
        if self.text:
            try:
                formats.parse_condition(self.text)
            except formats.ConditionError as exc:
                self.error = (
                    f"This condition does not parse: {exc.reason} at position {exc.position}."
                )
                return None
            return self.text
        if not self.rows:
            return None
        clauses = []
        for row in self.rows:
            if row.slot not in self.slots:
                self.error = f"There is no slot called {row.slot}."
                return None
            if row.operator not in dict(OPERATORS):
                self.error = f"Unknown operator {row.operator}."
                return None
            value: Any = None
            if row.operator not in _VALUELESS:
                try:
                    value = (
                        row.value
                        if row.operator in ("matches", "contains")
                        else typed_value(row.value, self.slots[row.slot])
                    )
                except forms.ValidationError as exc:
                    self.error = f"{row.slot}: {exc.messages[0]}"
                    return None
            clauses.append(formats.SimpleCondition(row.slot, row.operator, value))
        return formats.build_condition(clauses, "or" if self.join == "or" else "and")


class SlotValueConditions:
    """The list form of a response variation's condition, as Rasa reads it: items
    ``{type: slot, name: <slot>, value: <value>}``, all of which must hold. Edited as rows
    `<prefix>-slot` / `<prefix>-value` (the value picked from a list when the slot is
    categorical or bool); items of another type are kept as they are."""

    def __init__(
        self,
        prefix: str,
        slots: dict[str, str],
        initial: list,
        slot_values: dict[str, list] | None = None,
    ):
        self.prefix = prefix
        self.slots = slots
        self.slot_values = slot_values or {}
        self.error = ""
        self.kept = [i for i in initial if not (isinstance(i, dict) and i.get("type") == "slot")]
        self.rows = [
            ConditionRow(str(item.get("name") or ""), "=", _shown(item.get("value")))
            for item in initial
            if isinstance(item, dict) and item.get("type") == "slot"
        ]

    @property
    def slot_names(self) -> list[str]:
        return sorted(self.slots)

    @property
    def values_json(self) -> str:
        return json.dumps({k: [plain(v) for v in vs] for k, vs in self.slot_values.items()})

    @property
    def display_rows(self) -> list[ConditionRow]:
        shown = [*self.rows, ConditionRow()]
        for row in shown:
            values = [plain(v) for v in self.slot_values.get(row.slot) or []]
            row.choices = (
                None
                if not values
                else (values if not row.value or row.value in values else [row.value, *values])
            )
        return shown

    def read(self, data) -> list | None:
        """The condition list from the submitted form (None when every row is empty); sets
        `error` when a row names an unknown slot or a value the slot cannot hold."""
        self.rows = [
            ConditionRow(slot, "=", value)
            for slot, value in rows(data, f"{self.prefix}-slot", f"{self.prefix}-value")
            if slot
        ]
        items: list = []
        for row in self.rows:
            if row.slot not in self.slots:
                self.error = f"There is no slot called {row.slot}."
                return None
            try:
                value = typed_value(row.value, self.slots[row.slot])
            except forms.ValidationError as exc:
                self.error = f"{row.slot}: {exc.messages[0]}"
                return None
            choices = self.slot_values.get(row.slot)
            if choices and value is not None:
                # The value as the slot's definition writes it (e.g. a number among values).
                value = next((v for v in choices if plain(v) == plain(value)), _NOT_A_VALUE)
                if value is _NOT_A_VALUE:
                    shown = ", ".join(plain(v) for v in choices)
                    self.error = f"{row.slot}: {row.value!r} is not one of its values ({shown})."
                    return None
            items.append({"type": "slot", "name": row.slot, "value": value})
        items.extend(self.kept)
        return items or None


_NOT_A_VALUE = object()


def _shown(value: Any) -> str:
    return "null" if value is None else plain(value)
