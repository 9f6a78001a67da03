"""Opening hours of the library's branches."""

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

HOURS = {
    "central": "Monday to Saturday, 9:00 to 20:00",
    "riverside": "Tuesday to Friday, 10:00 to 18:00",
}


class LookUpOpeningHours(Action):
    def name(self) -> str:
        return "action_look_up_opening_hours"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        branch = tracker.get_slot("branch") or "central"
        return [SlotSet("opening_hours", HOURS.get(branch, HOURS["central"]))]
