"""Condition operators in `next` branches, and response rendering."""

import pytest

DOMAIN = """
version: "3.1"
intents: [start]
slots:
  num:
    type: float
    mappings: [{type: controlled}]
  word:
    type: text
    mappings: [{type: controlled}]
  items:
    type: list
    mappings: [{type: controlled}]
  flag:
    type: bool
    mappings: [{type: controlled}]
  tier:
    type: categorical
    values: [gold, basic]
    mappings: [{type: controlled}]
responses:
  utter_yes: [{text: "yes"}]
  utter_no: [{text: "no"}]
  utter_pick:
    - text: "gold legacy"
      condition:
        - type: slot
          name: tier
          value: gold
    - text: "gold string {word}"
      condition: slots.tier = "gold" and slots.num > 1
    - text: "default A"
    - text: "default B"
  utter_channel:
    - text: "web text"
      channel: socketio
    - text: "plain text"
  utter_rich:
    - text: "Hi {word}, missing {unknown}, ${num}"
      buttons:
        - title: "Pick {word}"
          payload: "/SetSlots(word={word})"
      image: "https://x.test/{word}.png"
      custom:
        kind: card
        name: "{word}"
      metadata:
        rephrase: true
  utter_split:
    - text: "first part\\n\\nsecond part"
"""


@pytest.fixture
def check(chat_factory):
    return lambda condition, **slots: _check(chat_factory, condition, **slots)


def _check(chat_factory, condition: str, **slots) -> bool:
    flows = f"""
    flows:
      f:
        description: f
        run_pattern_completed: false
        nlu_trigger: [{{intent: start}}]
        steps:
          - noop: true
            next:
              - if: {condition!r}
                then:
                  - action: utter_yes
                    next: END
              - else:
                  - action: utter_no
                    next: END
    """
    chat = chat_factory(DOMAIN, flows)
    if slots:
        chat.preset(**slots)
    return chat.say("/start") == ["utter_yes"]


@pytest.mark.parametrize(
    ("condition", "slots", "expected"),
    [
        ("slots.num = 3", {"num": 3.0}, True),
        ("slots.num == 4", {"num": 3.0}, False),
        ("slots.num != 4", {"num": 3.0}, True),
        ("slots.num < 4", {"num": 3.0}, True),
        ("slots.num <= 3", {"num": 3.0}, True),
        ("slots.num > 3", {"num": 3.0}, False),
        ("slots.num >= 3", {"num": 3.0}, True),
        ("slots.num > 3", {}, False),  # comparisons with null are false
        ("slots.num is null", {}, True),
        ("slots.num is not null", {"num": 1.0}, True),
        ("slots.items contains 'a'", {"items": ["a", "b"]}, True),
        ("slots.word contains 'ell'", {"word": "hello"}, True),
        ("slots.word matches '^h.*o$'", {"word": "hello"}, True),
        ("slots.word matches '^x'", {"word": "hello"}, False),
        ("not slots.flag", {"flag": False}, True),
        ("slots.flag and slots.num > 1", {"flag": True, "num": 2.0}, True),
        ("slots.flag or slots.num > 1", {"flag": False, "num": 0.0}, False),
        ("(slots.flag or slots.num > 1) and slots.word = 'x'", {"num": 5.0, "word": "x"}, True),
        ("slots.flag is true", {"flag": True}, True),
        ("slots.tier = gold", {"tier": "gold"}, True),
        ("{gold basic} contains slots.tier", {"tier": "basic"}, True),
    ],
)
def test_every_condition_operator(condition, slots, expected, check):
    assert check(condition, **slots) is expected


@pytest.fixture
def respond(chat_factory):
    return lambda name, **kwargs: _respond(chat_factory, name, **kwargs)


def _respond(chat_factory, name: str, seed: int = 7, channel: str = "rest", **slots):
    flows = f"""
    flows:
      f:
        description: f
        run_pattern_completed: false
        nlu_trigger: [{{intent: start}}]
        steps:
          - action: {name}
    """
    chat = chat_factory(DOMAIN, flows, seed=seed)
    if slots:
        chat.preset(**slots)
    chat.say("/start", channel=channel)
    return chat


def test_legacy_condition_variations_take_precedence(respond):
    assert respond("utter_pick", tier="gold").texts() == ["gold legacy"]


def test_string_conditions_and_both_forms_together(respond):
    texts = {
        respond("utter_pick", seed=s, tier="gold", num=2.0, word="w").texts()[0] for s in range(12)
    }
    assert texts == {"gold legacy", "gold string w"}


def test_unconditional_variations_are_picked_with_a_seeded_rng(respond):
    first = [respond("utter_pick", seed=s).texts()[0] for s in range(12)]
    again = [respond("utter_pick", seed=s).texts()[0] for s in range(12)]
    assert first == again
    assert set(first) == {"default A", "default B"}


def test_channel_specific_variations(respond):
    assert respond("utter_channel", channel="socketio").texts() == ["web text"]
    assert respond("utter_channel", channel="rest").texts() == ["plain text"]


def test_interpolation_buttons_images_custom_and_metadata(respond):
    chat = respond("utter_rich", word="Ann", num=5.5)
    bot = next(e for e in chat.turn_events if e["event"] == "bot")
    assert bot["text"] == "Hi Ann, missing {unknown}, $5.5"
    assert bot["data"]["buttons"] == [{"title": "Pick Ann", "payload": "/SetSlots(word=Ann)"}]
    assert bot["data"]["image"] == "https://x.test/Ann.png"
    assert bot["data"]["custom"] == {"kind": "card", "name": "Ann"}
    assert bot["metadata"]["rephrase"] is True
    assert bot["metadata"]["utter_action"] == "utter_rich"
    assert chat.messages == [
        {
            "recipient_id": "tester",
            "text": "Hi Ann, missing {unknown}, $5.5",
            "buttons": [{"title": "Pick Ann", "payload": "/SetSlots(word=Ann)"}],
        },
        {"recipient_id": "tester", "custom": {"kind": "card", "name": "Ann"}},
        {"recipient_id": "tester", "image": "https://x.test/Ann.png"},
    ]


def test_rest_messages_split_text_on_blank_lines(respond):
    chat = respond("utter_split")
    assert [m["text"] for m in chat.messages] == ["first part", "second part"]
