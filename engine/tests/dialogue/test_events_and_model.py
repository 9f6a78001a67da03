"""Event shapes and order, tracker replay and JSON, model persistence and settings."""

import json

from engine.dialogue import DialogueModel, FlowClassifier, Tracker
from engine.dialogue.stackpatch import apply_patch, diff
from engine.tests.dialogue.conftest import project_from

DOMAIN = """
version: "3.1"
intents: [start]
slots:
  name:
    type: text
    mappings: [{type: from_text}]
responses:
  utter_ask_name: [{text: "Name?"}]
  utter_hi: [{text: "Hi {name}", metadata: {rephrase: true}}]
"""
FLOWS = """
flows:
  greet:
    description: greet someone
    nlu_trigger: [{intent: start}]
    steps:
      - collect: name
      - action: utter_hi
"""
CONFIG = """
assistant_id: my_bot
policies:
  - name: FlowPolicy
    flow_classifier_threshold: 0.7
studio:
  nlu_fallback_threshold: 0.5
"""


def test_first_turn_event_order_and_shapes(chat_factory):
    chat = chat_factory(DOMAIN, FLOWS, {"hello": ("start", 0.95)})
    chat.say("hello", message_id="m-1", metadata={"client": "web"})
    kinds = chat.kinds()
    assert kinds[:5] == ["action", "session_started", "action", "user", "stack"]
    assert chat.turn_events[0]["name"] == "action_session_start"
    assert chat.turn_events[2]["name"] == "action_listen"
    assert kinds[5] == "flow_started" and kinds[-1] == "action"
    assert chat.turn_events[-1]["name"] == "action_listen"
    user = chat.turn_events[3]
    assert user["text"] == "hello" and user["message_id"] == "m-1"
    assert user["input_channel"] == "rest"
    assert user["parse_data"]["intent"] == {"name": "start", "confidence": 0.95}
    assert user["metadata"]["client"] == "web"
    for event in chat.events:
        assert isinstance(event["timestamp"], float)
        assert event["metadata"]["model_id"] == "model-1"
        assert event["metadata"]["assistant_id"] == "assistant-1"
    stack = json.loads(chat.turn_events[4]["update"])
    assert stack[0]["op"] == "add" and stack[0]["value"]["flow_id"] == "greet"
    assert set(stack[0]["value"]) == {"frame_id", "flow_id", "step_id", "frame_type", "type"}
    bot = next(e for e in chat.turn_events if e["event"] == "bot")
    assert set(bot["data"]) == {
        "elements",
        "quick_replies",
        "buttons",
        "attachment",
        "image",
        "custom",
    }
    action = next(
        e for e in chat.turn_events if e["event"] == "action" and e["name"] == "utter_ask_name"
    )
    assert action["policy"] == "FlowPolicy" and action["confidence"] == 1.0


def test_second_turn_has_no_session_start_and_slot_events_carry_values(chat_factory):
    chat = chat_factory(DOMAIN, FLOWS, {"hello": ("start", 0.95)})
    chat.say("hello")
    chat.say("Ada")
    assert chat.kinds()[0] == "user"
    assert ("name", "Ada") in chat.slot_events()
    # pattern_completed asks whether the user needs more (Rasa Pro 3.21) and waits.
    assert chat.flow_events()[-3:] == [
        ("flow_completed", "greet"),
        ("flow_started", "pattern_completed"),
        ("flow_started", "pattern_collect_information"),
    ]


def test_replaying_events_gives_the_same_state_and_the_tracker_json(chat_factory):
    chat = chat_factory(DOMAIN, FLOWS, {"hello": ("start", 0.95)})
    chat.say("hello")
    replayed = Tracker.from_events("tester", chat.events, chat.model)
    assert replayed.stack == chat.stack
    assert replayed.slots == chat.slots
    data = replayed.to_dict()
    for key in (
        "sender_id",
        "slots",
        "latest_message",
        "latest_event_time",
        "followup_action",
        "paused",
        "events",
        "latest_input_channel",
        "active_loop",
        "latest_action",
        "latest_action_name",
        "stack",
    ):
        assert key in data
    assert data["latest_action_name"] == "action_listen"
    assert data["latest_message"]["text"] == "hello"
    assert data["stack"][1]["collect"] == "name"
    json.dumps(data)
    # A replayed conversation continues normally.
    chat.replace_events(replayed.events)
    chat.say("Bo")
    assert chat.texts()[0] == "Hi Bo"


def test_restart_clears_slots_and_stack_and_a_new_session_starts(chat_factory):
    chat = chat_factory(DOMAIN, FLOWS, {"hello": ("start", 0.95)})
    chat.say("hello")
    chat.restart()
    assert chat.stack == [] and chat.events[-1]["event"] == "restart"
    chat.say("hello")
    assert chat.kinds()[:2] == ["action", "session_started"]


def test_start_flow_and_apply_events(chat_factory):
    chat = chat_factory(DOMAIN, FLOWS)
    messages = chat.start_flow("greet", {"name": "Kim"})
    assert [m["text"] for m in messages] == ["Hi Kim", "Can I help you with anything else?"]
    assert chat.texts() == ["Hi Kim", "Can I help you with anything else?"]
    chat2 = chat_factory(DOMAIN, FLOWS)
    chat2.apply_events(
        [
            {"event": "slot", "name": "name", "value": "Lu"},
            {"event": "flow_started", "flow_id": "greet"},
        ]
    )
    assert chat2.texts()[0] == "Hi Lu"
    assert ("name", "Lu") in chat2.slot_events()


def test_events_applied_with_a_null_timestamp_are_stamped_when_received(chat_factory):
    """As Rasa does: the Rasa SDK sends ``"timestamp": null`` (an event dropped by ingestion
    otherwise); a given timestamp is kept."""
    chat = chat_factory(DOMAIN, FLOWS)
    chat.apply_events(
        [
            {"event": "slot", "name": "name", "value": "Lu", "timestamp": None},
            {"event": "slot", "name": "name", "value": "Mo", "timestamp": 1_700_000_000.5},
        ]
    )
    slots = [e for e in chat.events if e["event"] == "slot" and e["name"] == "name"]
    assert isinstance(slots[0]["timestamp"], float)
    assert slots[1]["timestamp"] == 1_700_000_000.5


def test_stack_patches_round_trip():
    old = [{"frame_id": "A", "step_id": "START", "flow_id": "f"}]
    new = [{"frame_id": "A", "step_id": "s1", "flow_id": "f"}, {"frame_id": "B", "flow_id": "g"}]
    assert apply_patch(old, diff(old, new)) == new
    assert apply_patch(new, diff(new, [])) == []
    assert apply_patch([], [{"op": "replace", "path": "", "value": new}]) == new


def test_model_persists_loads_and_reads_settings(tmp_path):
    project = project_from(DOMAIN, FLOWS, CONFIG)
    model = DialogueModel.build(project)
    assert model.settings["flow_classifier_threshold"] == 0.7
    assert model.settings["nlu_fallback_threshold"] == 0.5
    assert model.assistant_id == "my_bot"
    assert "pattern_collect_information" in model.flows
    model.persist(tmp_path)
    loaded = DialogueModel.load(tmp_path)
    assert loaded.settings == model.settings
    assert set(loaded.flows) == set(model.flows)
    domain = loaded.domain_dict()
    assert domain["slots"]["name"]["type"] == "text"
    assert "utter_hi" in domain["responses"]
    assert domain["session_config"]["session_expiration_time"] == 60
    json.dumps(domain)


def test_text_outside_the_basic_plane_survives_persisting(tmp_path):
    """An emoji (outside the Basic Multilingual Plane) in a response and a flow name comes back
    as the same character, not as a pair of lone surrogates that no encoder can send."""
    domain = DOMAIN.replace("utter_hi:", 'utter_wave:\n    - text: "Hi \U0001f44b"\n  utter_hi:')
    flows = FLOWS.replace(
        "description: greet someone", "description: greet\n    name: greet \U0001f600", 1
    )
    model = DialogueModel.build(project_from(domain, flows, CONFIG))
    model.persist(tmp_path)
    loaded = DialogueModel.load(tmp_path)
    text = loaded.domain_dict()["responses"]["utter_wave"][0]["text"]
    assert text == "Hi \U0001f44b"
    text.encode("utf-8")
    assert loaded.flows["greet"].name == "greet \U0001f600"


def test_flow_classifier_ranks_persists_and_loads(tmp_path):
    project = project_from(
        DOMAIN,
        FLOWS
        + """
  other:
    description: report a lost or stolen card
    steps:
      - action: utter_hi
""",
    )
    classifier = FlowClassifier.train(project.flows, project.nlu)
    ranking = classifier.rank("my card was stolen")
    assert ranking[0]["name"] == "other"
    classifier.persist(tmp_path)
    assert FlowClassifier.load(tmp_path).rank("my card was stolen") == ranking
