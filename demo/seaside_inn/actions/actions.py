"""The Seaside Inn's custom actions, served by a Rasa SDK action server.

Run it from this assistant's folder (its endpoints.yml points at port 5055):
    python -m rasa_sdk --actions actions --port 5055

* ``validate_table_booking_form`` checks the table booking form's answers: a party of 1 to 12
  guests (digits or words), a time while the restaurant serves (12:00 to 22:00, normalised to
  ``HH:MM``), and indoor or terrace seating.
* ``action_submit_booking`` books the table and returns the booking reference as a slot.
* ``action_check_late_checkout`` sets the ``late_checkout`` slot from the room's occupancy;
  the stories branch on it.

The hotel is an in-memory stand-in with a fixed occupancy: enough to try every path.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

MAX_PARTY = 12
OPENING = (12, 0)
CLOSING = (22, 0)
SEATING = ("indoor", "terrace")
#: Rooms that a new guest moves into tomorrow morning: no late checkout there.
BOOKED_TOMORROW = frozenset({"102", "208", "305"})

NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
_TIME = re.compile(
    r"^\s*(?P<hour>\d{1,2})(?:[:.](?P<minute>[0-5]\d))?\s*(?P<half>am|pm)?\s*$", re.IGNORECASE
)
_references = itertools.count(1001)


def party_size(value: Any) -> int | None:
    """The number of guests in `value` (4, 4.0, "4", "four"), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value) if float(value).is_integer() else None
    text = str(value).strip().lower()
    if text in NUMBER_WORDS:
        return NUMBER_WORDS[text]
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


def clock_time(value: Any) -> tuple[int, int] | None:
    """``(hour, minute)`` of "7pm", "7:30 pm", "19:30" or "19.30", or None."""
    match = _TIME.match(str(value))
    if match is None:
        return None
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    half = (match["half"] or "").lower()
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half == "pm" else 0)
    if hour > 23:
        return None
    return hour, minute


class ValidateTableBookingForm(FormValidationAction):
    """Checks each answer of the table booking form; a refused answer empties its slot, so the
    form asks again."""

    def name(self) -> str:
        return "validate_table_booking_form"

    def validate_party_size(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        size = party_size(slot_value)
        if size is None or not 1 <= size <= MAX_PARTY:
            dispatcher.utter_message(response="utter_wrong_party_size")
            return {"party_size": None}
        return {"party_size": float(size)}

    def validate_booking_time(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        time = clock_time(slot_value)
        if time is None or not OPENING <= time <= CLOSING:
            dispatcher.utter_message(response="utter_wrong_booking_time")
            return {"booking_time": None}
        return {"booking_time": f"{time[0]:02d}:{time[1]:02d}"}

    def validate_seating(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        seating = str(slot_value or "").strip().lower()
        if seating not in SEATING:
            dispatcher.utter_message(response="utter_wrong_seating")
            return {"seating": None}
        return {"seating": seating}


class SubmitBooking(Action):
    """Books the table the form collected and tells the guest the booking reference."""

    def name(self) -> str:
        return "action_submit_booking"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        size = party_size(tracker.get_slot("party_size")) or 0
        time = tracker.get_slot("booking_time")
        seating = "on the terrace" if tracker.get_slot("seating") == "terrace" else "indoors"
        reference = f"SI-{next(_references)}"
        guests = "guest" if size == 1 else "guests"
        dispatcher.utter_message(
            text=f"Your table for {size} {guests} at {time}, {seating}, is booked. "
            f"Your booking reference is {reference}."
        )
        return [SlotSet("booking_reference", reference)]


class CheckLateCheckout(Action):
    """Whether the guest's room can be kept until 2pm: not when someone moves in tomorrow."""

    def name(self) -> str:
        return "action_check_late_checkout"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        room = tracker.get_slot("room_number")
        if not room:
            dispatcher.utter_message(
                text="Which room are you staying in? Tell me, for example: room 204."
            )
            return [SlotSet("late_checkout", None)]
        return [SlotSet("late_checkout", str(room).strip() not in BOOKED_TOMORROW)]
