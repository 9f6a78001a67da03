"""The Try inspector shows, per turn, the commands the message was understood as and which
command generator produced each (the user event's ``parse_data["commands"]``), and shrugs off
trackers of any other shape."""

import pytest
from django.urls import reverse

from apps.training import bot
from apps.training.inspector import command_lines, describe_command, turns_of

pytestmark = pytest.mark.django_db

COMMANDS = [
    {"command": "start flow", "flow": "transfer_money", "generator": "OfflineCommandGenerator"},
    {
        "command": "set slot",
        "name": "amount",
        "value": 50,
        "generator": "CompactLLMCommandGenerator",
    },
]


def tracker_with(parse_data) -> dict:
    return {
        "slots": {"amount": 50},
        "stack": [],
        "events": [
            {"event": "action", "name": "action_listen"},
            {"event": "user", "text": "send 50 to Ann", "parse_data": parse_data},
            {"event": "bot", "text": "Sending 50."},
        ],
    }


TRACKER = tracker_with({"intent": {"name": "transfer", "confidence": 1.0}, "commands": COMMANDS})


def test_each_command_reads_with_its_generator():
    assert command_lines(COMMANDS) == [
        {"text": "start flow transfer_money", "generator": "OfflineCommandGenerator"},
        {"text": "set slot amount = 50", "generator": "CompactLLMCommandGenerator"},
    ]
    (turn,) = [t for t in turns_of(TRACKER) if t["user"]]
    assert [c["text"] for c in turn["commands"]] == [
        "start flow transfer_money",
        "set slot amount = 50",
    ]


@pytest.mark.parametrize(
    ("command", "text"),
    [
        ({"command": "cancel flow"}, "cancel flow"),
        (
            {"command": "clarify", "options": ["transfer_money", "check_balance"]},
            "clarify options: transfer_money, check_balance",
        ),
        (
            {"command": "correct slot", "corrected_slots": [{"name": "amount", "value": 70}]},
            "correct slot corrected_slots: amount = 70",
        ),
        ({"command": "set slot", "name": "to", "value": None}, "set slot to = null"),
        ({"command": "set slot", "name": "to", "value": "Ann"}, "set slot to = Ann"),
        ({"flow": "x"}, "command x"),
        ({"command": 3, "extra": {"a": 1}}, 'command extra: {"a": 1}'),
    ],
)
def test_other_commands_read_plainly(command, text):
    assert describe_command(command) == text


@pytest.mark.parametrize(
    "commands",
    [None, "start flow x", 7, {"command": "start flow"}, [None, 3, "x", ["y"]], [{"generator": 5}]],
)
def test_commands_of_odd_shapes_never_fail(commands):
    lines = command_lines(commands)
    assert all(
        isinstance(line["text"], str) and isinstance(line["generator"], str) for line in lines
    )


@pytest.mark.parametrize(
    "tracker",
    [
        tracker_with("not a mapping"),
        tracker_with({"intent": "greet", "intent_ranking": "x", "entities": [1], "commands": 5}),
        tracker_with(None),
        {"events": "nope", "slots": [], "stack": {"a": 1}},
        {"events": [None, 3, {"event": 5}, {"event": "user", "text": "hi", "parse_data": []}]},
        [],
    ],
)
def test_a_tracker_of_another_shape_does_not_break_the_page(
    admin_client, live, monkeypatch, tracker
):
    monkeypatch.setattr(bot, "tracker", lambda deployment, sender: tracker)
    response = admin_client.get(reverse("training:try", args=["tiny"]) + "?version=1")
    assert response.status_code == 200


def test_the_inspector_shows_each_turns_commands(admin_client, live, monkeypatch):
    monkeypatch.setattr(bot, "tracker", lambda deployment, sender: TRACKER)
    page = admin_client.get(reverse("training:try", args=["tiny"]) + "?version=1").content.decode()
    assert '<p class="turn-label">Commands</p>' in page
    assert (
        "<li><code>start flow transfer_money</code> "
        '<span class="muted">· OfflineCommandGenerator</span></li>'
    ) in page
    assert "<code>set slot amount = 50</code>" in page and "CompactLLMCommandGenerator" in page


def test_a_turn_without_commands_shows_none(admin_client, live, monkeypatch):
    monkeypatch.setattr(bot, "tracker", lambda deployment, sender: tracker_with({"intent": {}}))
    page = admin_client.get(reverse("training:try", args=["tiny"]) + "?version=1").content.decode()
    assert "send 50 to Ann" in page and '<p class="turn-label">Commands</p>' not in page
