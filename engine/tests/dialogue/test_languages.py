"""The conversation's language: Rasa Pro's built-in `language` slot picks the translations of
responses, buttons and flow names, falling back to the default texts."""

import random

import pytest

from engine.dialogue import DialogueModel
from engine.dialogue.responses import render_response
from engine.formats import Response, ResponseVariation
from engine.tests.dialogue.conftest import project_from

CONFIG = """
recipe: default.v1
language: en
additional_languages: [de, x-de-formal]
"""

DOMAIN = """
version: "3.1"
intents: [transfer, cancel, inform]
entities: [recipient]
slots:
  recipient:
    type: text
    mappings: [{type: from_entity, entity: recipient}]
responses:
  utter_ask_recipient:
    - text: "To whom?"
      translation:
        de: "An wen?"
        x-de-formal: "An wen möchten Sie senden?"
  utter_sent:
    - text: "Sent to {recipient}"
      translation:
        de: "An {recipient} gesendet"
  utter_untranslated:
    - text: "Only in English"
  utter_choice:
    - text: "Which account?"
      translation: {de: "Welches Konto?"}
      buttons:
        - title: "Savings"
          payload: "/inform{\\"account\\": \\"savings\\"}"
          translation:
            de: {title: "Sparkonto"}
        - title: "Checking"
          payload: "/checking"
          translation:
            de: {title: "Girokonto", payload: "/girokonto"}
        - title: "Other"
          payload: "/other"
"""

FLOWS = """
flows:
  transfer:
    name: send money
    description: send money
    translation:
      de: {name: Geld senden}
    nlu_trigger: [{intent: transfer}]
    steps:
      - collect: recipient
      - action: utter_sent
"""

SCRIPT = {
    "send money": ("transfer", 0.9),
    "to Ann": ("inform", 0.9, [("recipient", "Ann")]),
    "stop": ("cancel", 0.9),
}


@pytest.fixture
def chat(chat_factory):
    return chat_factory(DOMAIN, FLOWS, SCRIPT, config=CONFIG)


def test_the_language_slot_is_built_in_as_rasa_pro_defines_it():
    model = DialogueModel.build(project_from(DOMAIN, FLOWS, CONFIG))
    slot = model.slots["language"]
    assert slot.type == "strict_categorical"
    assert slot.values == ["de", "x-de-formal", "en"]
    assert slot.initial_value == "en"
    assert [m.type for m in slot.mappings or []] == ["controlled"]
    assert model.initial_slots()["language"] == "en"
    assert model.additional_languages == ["de", "x-de-formal"]


def test_the_languages_survive_persisting_the_model(tmp_path):
    DialogueModel.build(project_from(DOMAIN, FLOWS, CONFIG)).persist(tmp_path)
    loaded = DialogueModel.load(tmp_path)
    assert loaded.language == "en"
    assert loaded.additional_languages == ["de", "x-de-formal"]
    assert loaded.slots["language"].values == ["de", "x-de-formal", "en"]


def test_the_default_language_speaks_the_default_texts(chat):
    chat.say("send money")
    assert chat.texts() == ["To whom?"]
    assert chat.slots["language"] == "en"


def test_the_language_slot_makes_the_assistant_answer_in_german(chat):
    chat.preset(language="de")
    chat.say("send money")
    assert chat.texts() == ["An wen?"]
    chat.say("to Ann")
    assert chat.texts()[0] == "An Ann gesendet"  # slots are filled into the translation


def test_a_custom_language_key_picks_its_own_translation(chat):
    chat.preset(language="x-de-formal")
    chat.say("send money")
    assert chat.texts() == ["An wen möchten Sie senden?"]


def test_a_missing_translation_falls_back_to_the_default_text(chat):
    chat.preset(language="x-de-formal")
    chat.say("send money")
    chat.say("to Ann")
    # utter_sent has no x-de-formal translation: Rasa sends the default text.
    assert chat.texts()[0] == "Sent to Ann"


def test_a_language_the_assistant_does_not_have_is_not_set(chat):
    chat.preset(language="fr")  # strict categorical: not one of its values
    chat.say("send money")
    assert chat.texts() == ["To whom?"]


def test_the_cancelled_flow_is_named_in_the_conversation_language(chat):
    chat.preset(language="de")
    chat.say("send money")
    chat.say("stop")
    assert any("Geld senden" in (t or "") for t in chat.texts()), chat.texts()


def _render(response: Response, language: str | None) -> dict:
    slots = {"language": language} if language else {}
    message = render_response(response, slots, None, random.Random(1))
    assert message is not None
    return message


def _response(name: str) -> Response:
    model = DialogueModel.build(project_from(DOMAIN, FLOWS, CONFIG))
    return model.responses[name]


def test_buttons_take_their_translated_title_and_payload_where_given():
    message = _render(_response("utter_choice"), "de")
    assert message["text"] == "Welches Konto?"
    assert message["buttons"] == [
        {"title": "Sparkonto", "payload": '/inform{"account": "savings"}'},
        {"title": "Girokonto", "payload": "/girokonto"},
        {"title": "Other", "payload": "/other"},
    ]
    english = _render(_response("utter_choice"), "en")
    assert [b["title"] for b in english["buttons"]] == ["Savings", "Checking", "Other"]
    assert all("translation" not in b for b in english["buttons"])


def test_variations_translated_into_the_language_are_preferred():
    response = Response(
        name="utter_hi",
        variations=[
            ResponseVariation(text="Hi"),
            ResponseVariation(text="Hello", translation={"de": "Hallo"}),
        ],
    )
    for seed in range(10):
        message = render_response(response, {"language": "de"}, None, random.Random(seed))
        assert message is not None and message["text"] == "Hallo"
    texts = {
        (render_response(response, {"language": "en"}, None, random.Random(s)) or {})["text"]
        for s in range(20)
    }
    assert texts == {"Hi", "Hello"}


def test_the_llm_may_not_set_the_language_slot():
    from engine.dialogue import Tracker
    from engine.llm.generator import LlmCommandGenerator

    model = DialogueModel.build(project_from(DOMAIN, FLOWS, CONFIG))
    generator = LlmCommandGenerator.__new__(LlmCommandGenerator)
    generator.model = model
    tracker = Tracker("t", model.initial_slots())
    assert "language" not in generator.settable_slots(tracker)
    assert "recipient" in generator.settable_slots(tracker)
