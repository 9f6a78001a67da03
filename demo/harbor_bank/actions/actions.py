"""Harbor Bank's custom actions, served by a Rasa SDK action server.

`make run` starts it on port 5055 (the demo's endpoints.yml points there):
    python -m rasa_sdk --actions demo.harbor_bank.actions --port 5055
The "bank" is an in-memory stand-in with fixed balances: enough to try every flow.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

BALANCES = {"checking": 2350.75, "savings": 10200.0, "credit": -420.5}
TRANSACTIONS = [
    "Nov 21  Coffee Corner        -4.20",
    "Nov 20  Salary, Acme Ltd  +3,100.00",
    "Nov 19  Harbor Grocers       -62.18",
    "Nov 18  City Transit          -2.75",
]
BRANCHES = {
    "boston": "Harbor Bank, 12 Seaport Blvd (ATM open 24/7)",
    "chicago": "Harbor Bank, 455 Lake St (ATM open 24/7)",
    "seattle": "Harbor Bank, 88 Pier Ave (ATM open 6am-midnight)",
}
_references = itertools.count(1001)

Events = list[dict[str, Any]]


class Named:
    """The action's name from `action_name` (a mixin, so it is not registered as an action)."""

    action_name = ""

    def name(self) -> str:
        return self.action_name

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> Events:
        return []


class CheckBalance(Named, Action):
    action_name = "action_check_balance"

    def run(self, dispatcher, tracker, domain):
        account = tracker.get_slot("account_type") or "checking"
        return [SlotSet("account_balance", BALANCES.get(account, 0.0))]


class TransferMoney(Named, Action):
    action_name = "action_transfer_money"

    def run(self, dispatcher, tracker, domain):
        return [SlotSet("last_transfer_reference", f"HB-{next(_references)}")]


class FetchTransactions(Named, Action):
    action_name = "action_fetch_transactions"

    def run(self, dispatcher, tracker, domain):
        return [SlotSet("recent_transactions", TRANSACTIONS)]


class OpenAccount(Named, Action):
    action_name = "action_open_account"

    def run(self, dispatcher, tracker, domain):
        owned = list(tracker.get_slot("owned_products") or [])
        product = tracker.get_slot("new_product_type")
        if product and product not in owned:
            owned.append(product)
        return [SlotSet("owned_products", owned)]


class VerifyIdentity(Named, Action):
    action_name = "action_verify_identity"

    def run(self, dispatcher, tracker, domain):
        # The demo accepts any date of birth with the last four digits 4242.
        failed = str(tracker.get_slot("card_last_four") or "") != "4242"
        return [SlotSet("identity_check_failed", failed)]


class LogFraudReport(Named, Action):
    action_name = "action_log_fraud_report"

    def run(self, dispatcher, tracker, domain):
        return [SlotSet("fraud_case_id", f"FR-{random.randint(10000, 99999)}")]


class FindBranch(Named, Action):
    action_name = "action_find_branch"

    def run(self, dispatcher, tracker, domain):
        city = str(tracker.get_slot("atm_city") or "").strip().lower()
        return [SlotSet("nearest_branch", BRANCHES.get(city))]


# Actions that would call the bank's systems; the demo has nothing to change.


class MoveFunds(Named, Action):
    action_name = "action_move_funds"


class PayBill(Named, Action):
    action_name = "action_pay_bill"


class CreateSavingsGoal(Named, Action):
    action_name = "action_create_savings_goal"


class BlockCard(Named, Action):
    action_name = "action_block_card"


class OrderReplacementCard(Named, Action):
    action_name = "action_order_replacement_card"


class UpdateAddress(Named, Action):
    action_name = "action_update_address"


class HandoffToAgent(Named, Action):
    action_name = "action_handoff_to_agent"
