"""Custom actions of the table-booking assistant (run by the Rasa action server)."""

import uuid
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

CUISINES = {"italian", "indian", "thai", "chinese"}


class ConfirmBooking(Action):
    def name(self) -> str:
        return "action_confirm_booking"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        reference = uuid.uuid4().hex[:8].upper()
        dispatcher.utter_message(text=f"Your booking reference is {reference}.")
        return [SlotSet("booking_reference", reference)]


class ValidateBookingForm(FormValidationAction):
    def name(self) -> str:
        return "validate_booking_form"

    def validate_cuisine(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        if str(value).lower() in CUISINES:
            return {"cuisine": str(value).lower()}
        dispatcher.utter_message(text="We don't serve that cuisine, sorry.")
        return {"cuisine": None}

    def validate_party_size(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        try:
            size = float(value)
        except (TypeError, ValueError):
            return {"party_size": None}
        return {"party_size": size if 0 < size <= 12 else None}
