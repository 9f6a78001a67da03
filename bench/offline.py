"""Offline command generator: accuracy on labelled messages and reply latency.

``python -m bench.offline``. The labelled messages (written for this benchmark) cover the demo
assistant (``demo/harbor_bank``, NLU trained from its data) and Rasa Pro's starter templates
(basic, default, finance, telco, tutorial, from the cached ``rasa-pro`` wheel; no NLU data, so
flows start from flow retrieval). Each case is a message, optionally after earlier messages of
the same conversation, with the flow it should start (``None``: none) and slot values it
should set. Figures:

* flow accuracy: the share of cases whose ``start flow`` command (or its absence) is right;
* slot accuracy: the share of labelled slot values set, with that value, by the turn;
* reply latency: p50 and p95 of a whole reply (understanding with flow retrieval and value
  extraction, applying commands, running flows) over every message of the set, in process.

Loops are bounded; nothing leaves the machine.
"""

from __future__ import annotations

import importlib
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import Figure
from demo import HARBOR_BANK

#: The p50 a reply may take offline, flow retrieval and value extraction included.
REPLY_P50_TARGET_MS = 5.0


@dataclass
class Case:
    text: str
    flow: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)
    before: tuple[str, ...] = ()
    #: False: the case checks slots only (the flow is already running or started before).
    check_flow: bool = True


def _c(text: str, flow: str | None = None, **slots: Any) -> Case:
    return Case(text, flow, slots)


def _after(before: tuple[str, ...], text: str, **slots: Any) -> Case:
    return Case(text, None, slots, before, check_flow=False)


CASES: dict[str, list[Case]] = {
    "demo": [
        _c("what's my balance", "check_balance"),
        _c("how much money is in my savings account", "check_balance", account_type="savings"),
        _c("I lost my card", "block_card"),
        _c("my credit card was stolen", "block_card", card_type="credit"),
        _c("show my recent transactions", "list_transactions"),
        _c("I want to send money to Maria", "transfer_money"),
        _c("pay my electricity bill", "pay_bill", bill_payee="electricity"),
        _c("I need a new debit card", "replace_card"),
        _c("find an ATM in Boston", "find_atm"),
        _c("hello", "greet"),
        _c("what can you do", "explain_capabilities"),
        _c("purple monkey dishwasher", None),
        _after(("what's my balance",), "checking", account_type="checking"),
        _after(("I want to send money",), "Maria", transfer_recipient="Maria"),
        _after(("I want to send money", "Maria"), "fifty dollars", transfer_amount=50.0),
        _after(("I lost my card",), "debit", card_type="debit"),
        _after(("pay my bill",), "the water one", bill_payee="water"),
    ],
    "tutorial": [
        _c("I want to send some money to a friend", "transfer_money"),
        _c("send money", "transfer_money"),
        _c("can I transfer cash to my family", "transfer_money"),
        _c("I'd like to pay Jane 20 dollars", "transfer_money", amount=20.0),
        _c("I want to send fifty dollars to Jane", "transfer_money", recipient="Jane", amount=50.0),
        _c("what's the weather like", None),
        _c("hello", None),
        _c("help", None),
        _after(("send money",), "Jane", recipient="Jane"),
        _after(("send money",), "to Basel", recipient="Basel"),
        _after(("send money", "Jane"), "50", amount=50.0),
        _after(("send money", "Jane"), "fifty", amount=50.0),
        _after(("send money", "Jane"), "$1,200", amount=1200.0),
        _after(("send money", "Jane"), "I meant Joe", recipient="Joe"),
    ],
    "basic": [
        _c("hello", "hello"),
        _c("hi there", "hello"),
        _c("help", "help"),
        _c("what can you help me with?", "help"),
        _c("show me faqs", "show_faqs"),
        _c("what are the frequently asked questions", "show_faqs"),
        _c("I would like to speak with a human", "human_handoff"),
        _c("goodbye", "goodbye_flow"),
        _c("bye", "goodbye_flow"),
        _c("purple monkey dishwasher", None),
    ],
    "default": [
        _c("I want to add someone to my contact list", "add_contact"),
        _c("add a new contact", "add_contact"),
        _c("Please show me my contacts", "list_contacts"),
        _c("who is in my contact list", "list_contacts"),
        _c("I want to remove contact", "remove_contact"),
        _c("delete @MaryLu from my contacts", "remove_contact", remove_contact_handle="@MaryLu"),
        _c("hello", None),
        _after(("add a new contact",), "it's @barts", add_contact_handle="@barts"),
        _after(("add a new contact", "@barts"), "just Bart", add_contact_name="Bart"),
        _after(("add a new contact", "@barts", "Bart"), "yes", add_contact_confirmation=True),
    ],
    "finance": [
        _c("What's my account balance?", "check_balance"),
        _c("how much money do I have", "check_balance"),
        _c("Temporarily block my Visa.", "block_card", card_block_type="temporary"),
        _c("my card was stolen, block it permanently", "block_card", card_block_type="permanent"),
        _c(
            "Transfer $50 to Joe immediately.",
            "transfer_money",
            amount_of_money=50.0,
            recipient_account="Joe",
            transfer_timing_type="immediate",
        ),
        _c("I want to send some money to a friend", "transfer_money"),
        _c("show me my recent transactions", "list_transactions"),
        _c("add a new payee", "add_contact"),
        _c("list my cards", "list_cards"),
        _c("activate my new card", "activate_card"),
        _c("I need my bank statement", "download_statements"),
        _c("what is my transfer limit", "check_transfer_limit"),
        _c("are you a bot?", "bot_challenge"),
        _c("hello", "hello"),
        _after(("block my card",), "1234 5678 9012 3456", bank_card_number="1234 5678 9012 3456"),
        _after(("send money",), "a third party transfer", transfer_type="third party"),
    ],
    "telco": [
        _c("Hey, my internet is very slow. What's going on?", "fix_internet_slow"),
        _c("the connection is so slow today", "fix_internet_slow"),
        _c("I would like to check my bill", "understand_bill"),
        _c("explain my April bill", "understand_bill"),
        _c("I want to talk to a human", "human_handoff"),
        _c("are you a robot", "bot_challenge"),
        _c("hello", "hello"),
        _c("goodbye", "goodbye"),
        _after(("I would like to check my bill",), "April", bill_month="April"),
        _after(("I would like to check my bill", "April"), "yup", breakdown_cost=True),
    ],
}

STARTERS = ("basic", "default", "finance", "telco", "tutorial")


def _projects() -> dict[str, Path]:
    found = {"demo": HARBOR_BANK}
    try:
        # The tests' cache of the wheel (a test module: imported by name, not type-checked).
        acceptance = importlib.import_module("engine.tests.test_rasa_acceptance")
        root = acceptance._unpacked()
        projects = acceptance.WHEEL_PROJECTS
    except BaseException as exc:  # pytest's skip when the wheel cannot be fetched
        print(f"starter templates left out: {exc}", file=sys.stderr)
        return found
    for name in STARTERS:
        found[name] = root / projects[f"template-{name}"]
    return found


def _processor(path: Path) -> Any:
    from engine.dialogue import DialogueModel, FlowClassifier, Processor, train_nlu
    from engine.formats import load_project_dir

    project = load_project_dir(path)
    return Processor(
        DialogueModel.build(project),
        train_nlu(project.nlu),
        FlowClassifier.train(project.flows, project.nlu),
        seed=0,
    )


@dataclass
class Score:
    flows: int = 0
    flows_right: int = 0
    slots: int = 0
    slots_right: int = 0
    misses: list[str] = field(default_factory=list)


def _evaluate(processor: Any, cases: list[Case], latencies: list[float]) -> Score:
    from engine.dialogue import UserMessage
    from engine.dialogue.slots import coerce

    score = Score()
    for number, case in enumerate(cases):
        sender = f"case-{number}"
        tracker = processor.new_tracker(sender)
        for text in case.before:
            processor.handle_message(tracker, UserMessage(text, sender))
        commands = processor.understand(tracker, processor.parse(case.text))
        started = [c["flow"] for c in commands if c["command"] == "start flow"]
        if case.check_flow:
            score.flows += 1
            if started[:1] == ([case.flow] if case.flow else []):
                score.flows_right += 1
            else:
                score.misses.append(f"{case.text!r}: started {started}, wanted {case.flow}")
        values = {
            c["name"]: coerce(processor.model.slots.get(c["name"]), c.get("value"))
            for c in commands
            if c["command"] == "set slot"
        }
        for name, wanted in case.slots.items():
            score.slots += 1
            if name in values and values[name] == wanted:
                score.slots_right += 1
            else:
                score.misses.append(
                    f"{case.text!r}: {name}={values.get(name)!r}, wanted {wanted!r}"
                )
        begin = time.perf_counter()
        processor.handle_message(tracker, UserMessage(case.text, sender))
        latencies.append(time.perf_counter() - begin)
    return score


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def run(verbose: bool = False) -> list[Figure]:
    figures: list[Figure] = []
    latencies: list[float] = []
    total = Score()
    for name, path in _projects().items():
        processor = _processor(path)
        warm: list[float] = []
        _evaluate(processor, CASES[name][:2], warm)  # first calls load parsers
        score = _evaluate(processor, CASES[name], latencies)
        total.flows += score.flows
        total.flows_right += score.flows_right
        total.slots += score.slots
        total.slots_right += score.slots_right
        figures.append(
            Figure(f"{name}: flow started right ({score.flows} cases)", _share(score, "flows"), "%")
        )
        if score.slots:
            figures.append(
                Figure(
                    f"{name}: slot values right ({score.slots} values)", _share(score, "slots"), "%"
                )
            )
        if verbose:
            for miss in score.misses:
                print(f"  miss [{name}] {miss}")
    figures.append(Figure("all: flow started right", _share(total, "flows"), "%"))
    figures.append(Figure("all: slot values right", _share(total, "slots"), "%"))
    p50 = _percentile(latencies, 0.5) * 1000
    figures.append(
        Figure(
            f"reply p50, offline generator ({len(latencies)} replies)",
            p50,
            "ms",
            f"< {REPLY_P50_TARGET_MS:.0f} ms: {'met' if p50 < REPLY_P50_TARGET_MS else 'MISSED'}",
        )
    )
    figures.append(
        Figure("reply p95, offline generator", _percentile(latencies, 0.95) * 1000, "ms")
    )
    figures.append(
        Figure("reply mean, offline generator", statistics.fmean(latencies) * 1000, "ms")
    )
    return figures


def _share(score: Score, kind: str) -> float:
    total = getattr(score, kind)
    right = getattr(score, f"{kind}_right")
    return 100.0 * right / total if total else 0.0


def main(argv: list[str]) -> int:
    print(f"== {__doc__.strip().splitlines()[0] if __doc__ else 'offline generator'}")
    for figure in run(verbose="-v" in argv or "--verbose" in argv):
        print(figure.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
