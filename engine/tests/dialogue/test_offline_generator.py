"""The offline command generator: free-text values, flow retrieval, every command it produces,
and conversations that run those commands."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.dialogue import FlowClassifier, Tracker
from engine.dialogue import extract as ex
from engine.dialogue.conditions import Conditions
from engine.dialogue.model import DialogueModel
from engine.dialogue.understand import (
    NLUCommandAdapter,
    OfflineCommandGenerator,
)
from engine.formats import Slot
from engine.tests.dialogue.conftest import make_chat, project_from

DOMAIN = """
version: "3.1"
slots:
  recipient:
    type: text
  amount:
    type: float
  account:
    type: categorical
    values: [checking, savings]
  confirmed:
    type: bool
  city:
    type: text
    mappings:
      - type: from_llm
  card_type:
    type: categorical
    values: [temporary, permanent]
responses:
  utter_ask_recipient:
    - text: "Who should get the money?"
  utter_ask_amount:
    - text: "How much?"
  utter_ask_account:
    - text: "From which account?"
  utter_ask_confirmed:
    - text: "Shall I send {amount} to {recipient}?"
  utter_ask_city:
    - text: "Which city?"
  utter_ask_card_type:
    - text: "Temporary or permanent?"
  utter_sent:
    - text: "Sent {amount} to {recipient}."
  utter_not_sent:
    - text: "Nothing was sent."
  utter_branch:
    - text: "Here is the branch in {city}."
  utter_blocked:
    - text: "Your card is blocked ({card_type})."
"""

FLOWS = """
flows:
  transfer_money:
    description: Help users send money to friends and family.
    steps:
      - collect: recipient
        description: the name of the person who gets the money
      - collect: amount
        description: the number of US dollars to send
      - collect: account
      - collect: confirmed
        ask_before_filling: true
        next:
          - if: slots.confirmed
            then:
              - action: utter_sent
                next: END
          - else:
              - action: utter_not_sent
                next: END
  find_branch:
    description: Find the nearest bank branch or office in a city.
    steps:
      - collect: city
      - action: utter_branch
  block_card:
    description: Block a lost or stolen bank card, temporarily or permanently.
    steps:
      - collect: card_type
      - action: utter_blocked
  replace_card:
    description: Order a replacement for a damaged bank card.
    steps:
      - action: utter_sent
"""

SINGLE = """
flows:
  transfer_money:
    description: Help users send money to friends and family.
    steps:
      - collect: recipient
      - collect: amount
        description: the number of US dollars to send
      - action: utter_sent
"""


def chat(flows: str = FLOWS):
    return make_chat(DOMAIN, flows, {}, classifier=True)


def generator(flows: str = FLOWS) -> tuple[OfflineCommandGenerator, DialogueModel]:
    project = project_from(DOMAIN, flows)
    model = DialogueModel.build(project)
    classifier = FlowClassifier.train(project.flows, project.nlu)
    return OfflineCommandGenerator(model, classifier, Conditions()), model


def commands_for(text: str, tracker: Tracker | None = None, flows: str = FLOWS) -> list[dict]:
    gen, model = generator(flows)
    tracker = tracker or Tracker("u", model.initial_slots())
    parse = {"text": text, "intent": {"name": None, "confidence": 0.0}, "entities": []}
    return gen.commands(tracker, parse)


def kinds(commands: list[dict]) -> list[str]:
    return [c["command"] for c in commands]


# -- values from free text ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("50", 50.0),
        ("fifty", 50.0),
        ("$1,200.50", 1200.5),
        ("two hundred and five dollars", 205.0),
        ("a hundred", 100.0),
        ("one", 1.0),
        ("2k", 2000.0),
        ("send 20 please", 20.0),
    ],
)
def test_numbers_and_amounts_in_digits_or_words(text, value):
    assert ex.value_for(Slot("amount", "float"), text) == value


def test_two_numbers_are_no_answer_for_one_amount():
    assert ex.value_for(Slot("amount", "float"), "between 20 and 30") is None
    assert ex.value_for(Slot("amount", "float"), "no idea") is None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("yes", True),
        ("Yes please", True),
        ("sure", True),
        ("of course", True),
        ("yeah, go ahead", True),
        ("no", False),
        ("nope", False),
        ("no thanks", False),
        ("not really", False),
        ("maybe later", None),
    ],
)
def test_booleans_from_yes_no_phrasing(text, value):
    assert ex.value_for(Slot("confirmed", "bool"), text) is value


def test_categorical_values_with_synonyms_and_fuzzy_matching():
    slot = Slot("card_type", "categorical", values=["temporary", "permanent"])
    assert ex.value_for(slot, "Temporarily please") == "temporary"
    assert ex.value_for(slot, "permanant") == "permanent"  # a typo
    assert ex.value_for(slot, "for good", synonyms={"permanent": ["for good"]}) == "permanent"
    assert ex.value_for(slot, "no idea") is None
    transfer = Slot("kind", "categorical", values=["self transfer", "third party"])
    assert ex.value_for(transfer, "a third-party transfer") == "third party"


def test_the_nlu_data_synonyms_name_categorical_values(tmp_path):
    nlu = """
version: "3.1"
nlu:
  - synonym: savings
    examples: |
      - rainy day fund
"""
    project = project_from(DOMAIN, FLOWS, nlu=nlu)
    model = DialogueModel.build(project)
    classifier = FlowClassifier.train(project.flows, project.nlu)
    assert model.synonyms == {"savings": ["rainy day fund"]}
    # The generator a bot runs reads them from the model, which keeps them when persisted.
    model.persist(tmp_path)
    model = DialogueModel.load(tmp_path)
    gen = OfflineCommandGenerator(model, classifier, Conditions())
    tracker = Tracker("u", model.initial_slots())
    tracker.stack = [
        {"frame_id": "A", "flow_id": "transfer_money", "step_id": "START", "type": "flow"},
        {
            "frame_id": "B",
            "flow_id": "pattern_collect_information",
            "collect": "account",
            "step_id": "START",
            "type": "pattern_collect_information",
        },
    ]
    commands = gen.commands(tracker, {"text": "from my rainy day fund", "entities": []})
    assert [(c["name"], c["value"]) for c in commands] == [("account", "savings")]


def test_dates_and_times_for_slots_about_them():
    date = ex.value_for(Slot("payment_date", "text"), "next friday")
    assert dt.date.fromisoformat(date).weekday() == 4
    assert ex.value_for(Slot("time", "text"), "at 3pm", "The time of day") == "15:00"
    # A slot about neither keeps the words.
    assert ex.value_for(Slot("city", "text"), "next to the lake") == "next to the lake"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("to Basel", "Basel"),
        ("Jane", "Jane"),
        ("it's @barts", "@barts"),
        ("just Bart", "Bart"),
        ("my name is Ada Lovelace", "Ada Lovelace"),
        ("I want to send it to Jane please", "Jane"),
        ("a two-person tent", "a two-person tent"),
    ],
)
def test_text_slots_get_the_value_span(text, value):
    assert ex.value_for(Slot("recipient", "text"), text) == value


def test_mentioned_values_need_an_unambiguous_cue():
    recipient, amount = Slot("recipient_account", "text"), Slot("amount", "float")
    text = "Transfer $50 to Joe immediately."
    assert ex.mentioned_value(recipient, text) == "Joe"
    assert ex.mentioned_value(amount, text) == 50.0
    assert ex.mentioned_value(amount, "send 50 to Joe") is None  # no currency: not an amount
    assert ex.mentioned_value(recipient, "send some money to a friend") is None
    assert ex.mentioned_value(Slot("date", "text"), text) is None  # "$50" is not a date


def test_corrections_cancellations_and_moves():
    assert ex.correction_phrase("I meant Joe") == "Joe"
    assert ex.correction_phrase("no, make it 60") == "60"
    assert ex.correction_phrase("actually Basel") == "Basel"
    assert ex.correction_phrase("Joe") is None
    assert ex.is_cancel("never mind")
    assert ex.is_cancel("Cancel that please")
    assert ex.is_cancel("I changed my mind")
    assert not ex.is_cancel("I want to cancel my card")  # a request, not a cancellation
    assert ex.move("I want to talk to a human") == "human handoff"
    assert ex.move("skip this question") == "skip question"
    assert ex.move("can you repeat that?") == "repeat"
    assert ex.move("start over") == "restart"
    assert ex.move("thanks!") == "chitchat"
    assert ex.move("how are you today?") == "chitchat"
    assert ex.move("what are the opening hours?") is None


# -- flow retrieval -------------------------------------------------------------------------


def test_a_single_startable_flow_is_retrieved_on_its_score():
    project = project_from(DOMAIN, SINGLE)
    classifier = FlowClassifier.train(project.flows, project.nlu)
    assert classifier.labels == ["transfer_money"]
    close = classifier.rank("I want to send some money to a friend")[0]["confidence"]
    far = classifier.rank("what's the weather like")[0]["confidence"]
    assert close > 0.45 > 0.15 > far


def test_flow_retrieval_ranks_by_meaning_and_survives_typos(tmp_path):
    project = project_from(DOMAIN, FLOWS)
    classifier = FlowClassifier.train(project.flows, project.nlu)
    assert classifier.rank("where is the nearest branch in Bern")[0]["name"] == "find_branch"
    assert classifier.rank("my card was stolen, blokc it")[0]["name"] == "block_card"
    classifier.persist(tmp_path)
    loaded = FlowClassifier.load(tmp_path)
    assert loaded.rank("send money") == classifier.rank("send money")


@pytest.mark.parametrize(
    "text",
    ["send money to Joe", "blokc my card", "branch in Bern", "help", "thanks", "zzz qqq", "hi"],
)
def test_flow_scores_are_the_vectorizers_cosine_similarities(text):
    """The fast scoring (CSC arrays read directly, one reduceat per label) gives what the
    fitted vectorizers' own transform and a per-row maximum give."""
    import numpy as np

    from engine.dialogue.flow_classifier import _content

    project = project_from(DOMAIN, FLOWS)
    index = FlowClassifier.train(project.flows, project.nlu).index
    content = _content(text, expand=True)
    rows = np.zeros(index.word_rows.shape[0])
    if content:
        for vectorizer, matrix in ((index.word, index.word_rows), (index.char, index.char_rows)):
            rows += 0.5 * (vectorizer.transform([content]) @ matrix.T).toarray().ravel()
    best = np.zeros(len(index.labels) + 1)
    np.maximum.at(best, index.owner, rows)
    flows, background = best[:-1], best[-1]
    wanted = np.clip(flows - 0.5 * np.maximum(0.0, background - flows), 0.0, 1.0)
    if not content:
        wanted = np.zeros(len(index.labels))
    assert np.allclose(index.scores(text), wanted, atol=1e-12)
    assert index.scores(text).shape == (len(index.labels),)


def test_a_persisted_classifier_of_another_kind_is_refused(tmp_path):
    import joblib

    joblib.dump({"not": "an index"}, tmp_path / "flow_classifier.joblib")
    with pytest.raises(ValueError, match="retrain"):
        FlowClassifier.load(tmp_path)


# -- the commands ---------------------------------------------------------------------------


def test_every_command_names_the_generator():
    commands = commands_for("I want to send 50 dollars to Jane")
    assert sorted(kinds(commands)) == ["set slot", "set slot", "start flow"]
    assert {c["generator"] for c in commands} == {"OfflineCommandGenerator"}
    start = next(c for c in commands if c["command"] == "start flow")
    assert start["flow"] == "transfer_money"
    values = {c["name"]: c["value"] for c in commands if c["command"] == "set slot"}
    assert values == {"recipient": "Jane", "amount": 50.0}


def test_payload_commands_come_from_the_payload():
    gen, model = generator()
    tracker = Tracker("u", model.initial_slots())
    parse = {
        "text": "/SetSlots(amount=5)",
        "commands": [{"command": "set slot", "name": "amount", "value": "5"}],
    }
    assert [c["generator"] for c in gen.commands(tracker, parse)] == ["payload"]


def test_the_nlu_command_adapter_alone_returns_nothing_for_free_text():
    _, model = generator()
    adapter = NLUCommandAdapter(model, Conditions())
    assert adapter.name == "NLUCommandAdapter"
    tracker = Tracker("u", model.initial_slots())
    assert adapter.commands(tracker, {"text": "send money to Jane", "entities": []}) == []


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("hello there", "chitchat"),
        ("thank you so much", "chitchat"),
        ("what are your opening hours?", "knowledge"),
        ("how do I reset my pin", "knowledge"),
        ("purple monkey dishwasher", "cannot handle"),
        ("I want to talk to a human", "human handoff"),
    ],
)
def test_messages_without_a_flow_or_slot(text, kind):
    assert kinds(commands_for(text)) == [kind]


def test_two_close_flows_ask_for_clarification():
    commands = commands_for("my bank card")
    assert kinds(commands) == ["clarify"]
    assert set(commands[0]["options"]) == {"block_card", "replace_card"}


def test_moves_while_a_question_is_asked():
    c = chat()
    c.say("I want to send some money")
    proc, t = c.processor, c.tracker
    for text, kind in [
        ("skip this question", "skip question"),
        ("can you repeat that?", "repeat"),
        ("start over", "restart"),
        ("never mind", "cancel flow"),
    ]:
        assert kinds(proc.understand(t, proc.parse(text))) == [kind]


def test_skip_question_needs_a_question():
    assert kinds(commands_for("skip")) != ["skip question"]


# -- conversations --------------------------------------------------------------------------


def test_a_flow_starts_from_free_text_and_collects_answers_by_type():
    c = chat()
    assert c.say("I want to send some money to a friend") == ["utter_ask_recipient"]
    assert c.say("to Jane") == ["utter_ask_amount"]
    assert c.say("fifty") == ["utter_ask_account"]
    assert c.say("the savings one") == ["utter_ask_confirmed"]
    assert c.say("yes please") == ["utter_sent", "utter_ask_continue_conversation"]
    assert c.texts()[0] == "Sent 50.0 to Jane."


def test_a_single_flow_starts_and_other_slots_are_read_from_the_same_message():
    c = chat(SINGLE)
    assert c.say("I want to send $30 to Joe") == ["utter_sent", "utter_ask_continue_conversation"]
    assert c.texts()[0] == "Sent 30.0 to Joe."


def test_i_meant_corrects_the_earlier_answer():
    c = chat()
    c.say("I want to send some money")
    c.say("Jane")
    assert c.say("I meant Joe")[0] == "utter_corrected_previous_input"
    assert c.slots["recipient"] == "Joe"
    assert "pattern_correction" in [f for _, f in c.flow_events()]


def test_a_correction_of_a_number_finds_the_number_slot():
    c = chat()
    c.say("send money to Jane")
    c.say("Jane")
    c.say("40")
    c.say("no, make it 60")
    assert c.slots["amount"] == 60.0


def test_cancelling_cancels_the_flow():
    c = chat()
    c.say("send money please")
    assert c.say("never mind")[0] == "utter_flow_cancelled_rasa"
    assert ("flow_cancelled", "transfer_money") in c.flow_events()


def test_clarification_offers_the_close_flows():
    c = chat()
    c.say("my bank card")
    assert ("flow_started", "pattern_clarification") in c.flow_events()


def test_chitchat_and_cannot_handle():
    c = chat()
    # Small talk is a chitchat command; Rasa Pro 3.21's pattern_chitchat says
    # utter_cannot_handle.
    assert c.say("thanks!") == ["utter_cannot_handle"]
    assert ("flow_started", "pattern_chitchat") in c.flow_events()
    c = chat()
    assert c.say("purple monkey dishwasher") == ["utter_ask_rephrase"]


def test_a_message_that_changes_nothing_is_not_silent():
    c = chat()
    c.say("send money please")
    assert c.say("hmm") != []


def test_an_answer_that_is_another_request_starts_that_flow():
    c = chat()
    c.say("send money please")
    c.say("where is the nearest branch office")
    assert c.slots["recipient"] is None
    assert ("flow_started", "find_branch") in c.flow_events()


def test_categorical_values_are_read_when_the_flow_starts():
    c = chat()
    c.say("block my card temporarily")
    assert c.utters()[0] == "utter_blocked"
    assert c.texts()[0] == "Your card is blocked (temporary)."


@pytest.mark.parametrize(
    ("setup", "text", "pattern"),
    [
        ((), "what are your opening hours?", "pattern_search"),
        ((), "I want to talk to a human", "pattern_human_handoff"),
        (("send money please",), "skip this question", "pattern_skip_question"),
        (("send money please",), "can you repeat that?", "pattern_repeat_bot_messages"),
        (("send money please",), "start over", "pattern_restart"),
    ],
)
def test_the_pattern_of_each_move_runs(setup, text, pattern):
    c = chat()
    for earlier in setup:
        c.say(earlier)
    c.say(text)
    assert ("flow_started", pattern) in c.flow_events()


def test_a_short_answer_answers_instead_of_starting_a_flow_it_mentions():
    flows = (
        FLOWS
        + """
  open_savings:
    description: Open a new savings account.
    steps:
      - action: utter_sent
"""
    )
    c = chat(flows)
    c.say("send money to Jane")
    c.say("Jane")
    c.say("20")
    assert c.say("savings") == ["utter_ask_confirmed"]
    assert c.slots["account"] == "savings"
    assert ("flow_started", "open_savings") not in c.flow_events()


QUESTION_FLOWS = (
    FLOWS
    + """
  ask_expert:
    description: Answers questions about our savings products.
    steps:
      - collect: city
        description: the user's question about a product
      - action: utter_branch
"""
)


def test_a_question_answers_a_slot_that_asks_for_a_question():
    c = chat(QUESTION_FLOWS)
    c.say("I have a question about our savings products")
    assert ("flow_started", "ask_expert") in c.flow_events()
    c.say("is the savings account free?")
    assert "Here is the branch in is the savings account free." in c.texts()
    assert ("flow_completed", "ask_expert") in c.flow_events()


def test_a_question_while_a_name_is_asked_is_a_knowledge_question():
    c = chat()
    c.say("I want to send money")
    c.say("what are your opening hours?")
    assert c.slots["recipient"] is None
    assert ("flow_started", "pattern_search") in c.flow_events()
