"""Every command kind, applied with Rasa Pro's semantics, and the default patterns they run.

The conversations give the processor explicit commands (as an LLM command generator would
produce them), so they do not depend on understanding.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

import engine.dialogue
from engine.dialogue import DialogueModel, Processor, Tracker, UserMessage
from engine.dialogue.model import default_flows, default_responses
from engine.formats import load_project_files, validate_project
from engine.formats.defaults import DEFAULT_PATTERNS, DEFAULT_RESPONSES
from engine.server import Bot, create_app
from engine.tests.dialogue.conftest import ScriptedNlu, project_from

with warnings.catch_warnings():
    # Starlette suggests httpx2 for its TestClient; httpx is what the project ships.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

DOMAIN = """
version: "3.1"
entities: [city]
slots:
  recipient:
    type: text
  amount:
    type: float
  city:
    type: text
    mappings: [{type: from_entity, entity: city}]
  confirmed:
    type: bool
  note:
    type: text
responses:
  utter_ask_recipient: [{text: "To whom?"}]
  utter_ask_amount: [{text: "How much?"}]
  utter_ask_confirmed: [{text: "Sure?"}]
  utter_ask_city: [{text: "Which city?"}]
  utter_sent: [{text: "Sent {amount} to {recipient}"}]
  utter_balance: [{text: "Your balance is fine"}]
  utter_weather: [{text: "Sunny in {city}"}]
"""

FLOWS = """
flows:
  transfer:
    name: send money
    description: send money to a friend
    steps:
      - collect: recipient
      - collect: amount
      - collect: confirmed
      - action: utter_sent
  balance:
    name: check balance
    description: check the account balance
    steps:
      - action: utter_balance
  weather:
    name: weather
    description: the weather in a city
    steps:
      - collect: city
      - action: utter_weather
"""

PASSWORD_DOC = """# Account help

## Resetting your password
Open Settings, choose Security and press Reset password. We send a link by email.

## Opening hours
Our branches are open from 9 to 5 on weekdays.
"""


class CommandChat:
    """One conversation whose turns carry explicit commands (`say(text, *commands)`)."""

    def __init__(
        self,
        flows: str = FLOWS,
        *,
        config: str | None = None,
        docs: dict | None = None,
        domain: str = DOMAIN,
    ):
        files = {"domain.yml": domain, "data/flows.yml": flows}
        if config is not None:
            files["config.yml"] = config
        for path, text in (docs or {}).items():
            files[path] = text
        model = DialogueModel.build(load_project_files(files))
        self.processor = Processor(model, ScriptedNlu(), seed=3, model_id="m", assistant_id="a")
        self.queued: list[dict[str, Any]] = []
        self.processor.understand = lambda tracker, parse: self.queued  # type: ignore[method-assign]
        self.tracker = Tracker("tester", model.initial_slots())
        self.turn: list[dict[str, Any]] = []
        self.applied: list[dict[str, Any]] = []
        applier = self.processor.commands
        original_apply = applier.apply

        def recording_apply(tracker: Tracker, commands: list[dict[str, Any]]) -> Any:
            self.applied = original_apply(tracker, commands)
            return self.applied

        applier.apply = recording_apply  # type: ignore[method-assign]

    def say(self, text: str, *commands: dict[str, Any]) -> list[str | None]:
        self.queued = [{"generator": "TestGenerator", **c} for c in commands]
        start = len(self.tracker.events)
        self.processor.handle_message(self.tracker, UserMessage(text, "tester"))
        self.turn = self.tracker.events[start:]
        return self.utters()

    def utters(self) -> list[str | None]:
        return [e["metadata"].get("utter_action") for e in self.turn if e["event"] == "bot"]

    def texts(self) -> list[str | None]:
        return [e.get("text") for e in self.turn if e["event"] == "bot"]

    def actions(self) -> list[str]:
        return [e["name"] for e in self.turn if e["event"] == "action"]

    def flow_events(self) -> list[tuple[str, str]]:
        return [(e["event"], e["flow_id"]) for e in self.turn if e["event"].startswith("flow_")]

    def kinds(self) -> list[str]:
        return [c["command"] for c in self.applied]

    @property
    def slots(self) -> dict[str, Any]:
        return self.tracker.slots

    def stack_flows(self) -> list[str]:
        return [f["flow_id"] for f in self.tracker.stack]


def start(flow: str) -> dict[str, Any]:
    return {"command": "start flow", "flow": flow}


def set_slot(name: str, value: Any, extractor: str = "LLM") -> dict[str, Any]:
    return {"command": "set slot", "name": name, "value": value, "extractor": extractor}


CANCEL = {"command": "cancel flow"}


@pytest.fixture
def chat() -> CommandChat:
    return CommandChat()


# -- start flow and set slot ----------------------------------------------------------------------


def test_start_flow_and_set_slots_with_the_starting_message(chat):
    assert chat.say("send 50 to Jane", start("transfer"), set_slot("recipient", "Jane"),
                    set_slot("amount", 50)) == ["utter_ask_confirmed"]  # fmt: skip
    assert chat.slots["recipient"] == "Jane"
    assert chat.slots["amount"] == 50.0
    slot_events = [e for e in chat.turn if e["event"] == "slot"]
    assert [e["filled_by"] for e in slot_events] == ["LLM", "LLM"]
    assert chat.say("yes", set_slot("confirmed", True)) == [
        "utter_sent",
        "utter_ask_continue_conversation",
    ]


def test_a_value_for_a_slot_no_active_or_starting_flow_collects_is_dropped(chat):
    chat.say("check balance", start("balance"))
    chat.say("send money", start("transfer"))
    # The LLM set the city, which only the weather flow collects: Rasa skips the command.
    assert chat.say("Berlin", set_slot("city", "Berlin")) == [
        "utter_ask_rephrase",
        "utter_ask_recipient",
    ]
    assert chat.slots["city"] is None


def test_a_slot_the_domain_lacks_becomes_cannot_handle(chat):
    chat.say("send money", start("transfer"))
    assert chat.say("x", set_slot("nonsense", 1)) == ["utter_ask_rephrase", "utter_ask_recipient"]
    assert chat.kinds() == ["cannot handle"]


def test_an_llm_value_for_an_nlu_only_slot_is_refused(chat):
    chat.say("weather", start("weather"))
    assert chat.say("Paris", set_slot("city", "Paris", "LLM")) == [
        "utter_ask_rephrase",
        "utter_ask_city",
    ]
    assert chat.slots["city"] is None
    assert chat.say("Paris", set_slot("city", "Paris", "NLU")) == [
        "utter_weather",
        "utter_ask_continue_conversation",
    ]


def test_starting_the_active_flow_again_is_dropped_without_cannot_handle(chat):
    chat.say("send money", start("transfer"))
    assert chat.say("send money", start("transfer")) == ["utter_ask_recipient"]
    assert chat.kinds() == []
    assert chat.stack_flows().count("transfer") == 1


def test_a_new_flow_interrupts_and_the_interrupted_one_continues(chat):
    chat.say("send money", start("transfer"))
    # Rasa Pro 3.21's pattern_continue_interrupted asks before going back.
    assert chat.say("balance?", start("balance")) == [
        "utter_balance",
        "utter_ask_continue_interrupted_flow_confirmation",
    ]
    assert ("flow_interrupted", "transfer") in chat.flow_events()
    assert chat.say("yes", set_slot("continue_interrupted_flow_confirmation", True)) == [
        "utter_ask_recipient"
    ]
    assert ("flow_resumed", "transfer") in chat.flow_events()


def test_starting_a_flow_lower_on_the_stack_resumes_it(chat):
    chat.say("send money", start("transfer"))
    chat.say("weather", start("weather"))
    assert chat.stack_flows()[-2:] == ["weather", "pattern_collect_information"]
    assert chat.say("back to the money", start("transfer")) == ["utter_ask_recipient"]
    assert ("flow_resumed", "transfer") in chat.flow_events()
    assert ("flow_interrupted", "weather") in chat.flow_events()


# -- corrections ------------------------------------------------------------------------------------


def test_a_changed_value_of_a_filled_slot_is_a_correction(chat):
    chat.say("send money", start("transfer"))
    chat.say("Jane", set_slot("recipient", "Jane"))
    assert chat.say("50", set_slot("amount", 50)) == ["utter_ask_confirmed"]
    assert chat.say("I meant Joe", set_slot("recipient", "Joe")) == [
        "utter_corrected_previous_input",
        "utter_ask_confirmed",
    ]
    assert chat.kinds() == ["correct slot"]
    assert chat.texts()[0] == "Okay, I've updated recipient to Joe."
    assert chat.slots["recipient"] == "Joe"
    assert ("flow_started", "pattern_correction") in chat.flow_events()


def test_correct_slot_commands_group_and_the_same_value_is_no_correction(chat):
    chat.say("send money", start("transfer"), set_slot("recipient", "Jane"), set_slot("amount", 5))
    assert chat.say(
        "Joe and 7", {"command": "correct slot", "corrected_slots": [{"name": "recipient", "value": "Joe"}]},
        set_slot("amount", 7),
    ) == ["utter_corrected_previous_input", "utter_ask_confirmed"]  # fmt: skip
    assert chat.kinds() == ["correct slot"]
    assert chat.slots["recipient"] == "Joe" and chat.slots["amount"] == 7.0
    assert chat.say("Joe", set_slot("recipient", "Joe")) == ["utter_ask_confirmed"]


@pytest.mark.parametrize(("allow", "expected"), [(False, "Rome"), (True, "Milan")])
def test_an_llm_does_not_overwrite_an_nlu_value_unless_the_mapping_allows_it(allow, expected):
    domain = DOMAIN.replace(
        "  confirmed:\n",
        "  town:\n    type: text\n    mappings:\n      - {type: from_entity, entity: city}\n"
        f"      - {{type: from_llm, allow_nlu_correction: {str(allow).lower()}}}\n"
        "  confirmed:\n",
    ).replace("responses:\n", 'responses:\n  utter_ask_town: [{text: "Which town?"}]\n')
    flows = (
        FLOWS
        + """
  trip:
    description: plan a trip
    steps:
      - collect: town
      - collect: confirmed
      - action: utter_balance
"""
    )
    c = CommandChat(flows, domain=domain)
    c.say("trip", start("trip"))
    c.say("Rome", set_slot("town", "Rome", "NLU"))
    assert c.slots["town"] == "Rome"
    c.say("no, Milan", set_slot("town", "Milan", "LLM"))
    assert c.slots["town"] == expected


# -- cancel ----------------------------------------------------------------------------------------


def test_cancel_flow_cancels_the_active_flow_and_resets_its_slots(chat):
    chat.say("send money", start("transfer"), set_slot("recipient", "Jane"))
    assert chat.say("stop", CANCEL) == ["utter_flow_cancelled_rasa"]
    assert chat.texts() == ["Okay, I've stopped send money."]
    assert ("flow_cancelled", "transfer") in chat.flow_events()
    assert chat.tracker.stack == []
    assert chat.slots["recipient"] is None


def test_cancel_without_an_active_flow_cannot_be_handled(chat):
    assert chat.say("stop", CANCEL) == ["utter_ask_rephrase"]
    assert chat.kinds() == ["cannot handle"]


def test_cancel_and_start_in_one_message_cancel_the_old_flow_and_run_the_new(chat):
    chat.say("send money", start("transfer"))
    assert chat.say("forget it, check my balance", CANCEL, start("balance")) == [
        "utter_flow_cancelled_rasa",
        "utter_balance",
        "utter_ask_continue_conversation",
    ]
    assert ("flow_cancelled", "transfer") in chat.flow_events()
    # The balance flow is done: pattern_completed asks whether there is anything else.
    assert chat.stack_flows() == ["pattern_completed", "pattern_collect_information"]


# -- clarify ---------------------------------------------------------------------------------------


def test_clarify_lists_the_flows_by_name(chat):
    assert chat.say("money", {"command": "clarify", "options": ["transfer", "balance"]}) == [
        "utter_clarification_options_rasa"
    ]
    assert chat.texts()[0].endswith(
        "Which of these would you like to do: send money or check balance?"
    )


def test_clarify_without_known_options_asks_for_more_detail(chat):
    # Rasa Pro 3.21 drops the options that are no flows and pushes pattern_clarification all
    # the same; without options it asks the user to say more.
    assert chat.say("hm", {"command": "clarify", "options": ["nope"]}) == [
        "utter_clarification_no_options_rasa"
    ]
    assert ("flow_started", "pattern_clarification") in chat.flow_events()


def test_clarify_next_to_other_commands_is_dropped(chat):
    assert chat.say("balance", {"command": "clarify", "options": ["transfer", "balance"]},
                    start("balance")) == ["utter_balance", "utter_ask_continue_conversation"]  # fmt: skip
    assert chat.kinds() == ["start flow"]


# -- patterns pushed by commands --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "utters", "pattern"),
    [
        # Rasa Pro 3.21's pattern_chitchat says utter_cannot_handle.
        ({"command": "chitchat"}, ["utter_cannot_handle"], "pattern_chitchat"),
        # The default pattern_search ends with its step: pattern_completed follows.
        ({"command": "knowledge"}, ["utter_no_knowledge_base", "utter_ask_continue_conversation"],
         "pattern_search"),
        ({"command": "human handoff"}, ["utter_human_handoff_not_available"], "pattern_human_handoff"),
        ({"command": "cannot handle"}, ["utter_ask_rephrase"], "pattern_cannot_handle"),
        ({"command": "cannot handle", "reason": "cannot_handle_not_supported"},
         ["utter_cannot_handle"], "pattern_cannot_handle"),
        ({"command": "error"}, ["utter_internal_error_rasa"], "pattern_internal_error"),
        ({"command": "error", "error_type": "rasa_internal_error_user_input_too_long"},
         ["utter_user_input_too_long_error_rasa"], "pattern_internal_error"),
        ({"command": "error", "error_type": "rasa_internal_error_user_input_empty"},
         ["utter_user_input_empty_error_rasa"], "pattern_internal_error"),
    ],
)  # fmt: skip
def test_commands_push_their_pattern(chat, command, utters, pattern):
    assert chat.say("hello", command) == utters
    assert ("flow_started", pattern) in chat.flow_events()
    asking = utters[-1] == "utter_ask_continue_conversation"
    assert chat.stack_flows() == (
        ["pattern_completed", "pattern_collect_information"] if asking else []
    )


def test_a_pattern_keeps_the_active_flow_and_its_question_comes_again(chat):
    chat.say("send money", start("transfer"))
    assert chat.say("are you a bot?", {"command": "chitchat"}) == [
        "utter_cannot_handle",
        "utter_ask_recipient",
    ]
    assert chat.say("who are you", {"command": "human handoff"}) == [
        "utter_human_handoff_not_available",
        "utter_ask_recipient",
    ]
    # Rasa Pro 3.21's pattern_human_handoff counts the hand-over and says that no human is
    # available.
    assert ("flow_started", "pattern_human_handoff") in chat.flow_events()
    assert "action_handoff_metric" in chat.actions()


def test_only_one_cannot_handle_and_none_next_to_other_commands(chat):
    chat.say("x", {"command": "cannot handle"}, {"command": "cannot handle", "reason": "b"})
    assert chat.kinds() == ["cannot handle"]
    chat.say("x", {"command": "cannot handle"}, start("balance"))
    assert chat.kinds() == ["start flow"]


def test_chitchat_through_action_trigger_chitchat_needs_the_intentless_policy():
    flows = (
        FLOWS
        + """
  pattern_chitchat:
    description: free-form small talk
    steps:
      - action: action_trigger_chitchat
"""
    )
    c = CommandChat(flows)
    assert c.say("how are you?", {"command": "chitchat"}) == ["utter_cannot_handle"]
    assert c.applied == [{"command": "cannot handle", "reason": "cannot_handle_chitchat"}]


def test_skip_question_answers_and_asks_again(chat):
    chat.say("send money", start("transfer"))
    assert chat.say("skip that", {"command": "skip question"}) == [
        "utter_skip_question_answer",
        "utter_ask_recipient",
    ]
    assert ("flow_started", "pattern_skip_question") in chat.flow_events()


def test_skip_question_and_code_change_need_an_active_flow(chat):
    assert chat.say("skip", {"command": "skip question"}) == ["utter_ask_rephrase"]
    assert chat.say("update", {"command": "handle code change"}) == ["utter_ask_rephrase"]


def test_repeat_sends_the_last_bot_messages_again(chat):
    chat.say("balance?", start("balance"))
    assert chat.say("say again", {"command": "repeat"}) == [
        "utter_balance",
        "utter_ask_continue_conversation",
    ]
    assert "action_repeat_bot_messages" in chat.actions()
    # The question being asked is not repeated: it is asked again.
    repeated = [e["metadata"].get("repeated") for e in chat.turn if e["event"] == "bot"]
    assert repeated == [True, None]


def test_repeat_during_a_question_asks_it_once(chat):
    chat.say("check balance", start("balance"))
    chat.say("send money", start("transfer"))
    assert chat.say("what?", {"command": "repeat"}) == ["utter_ask_recipient"]


def test_restart_clears_slots_and_stack(chat):
    chat.say("send money", start("transfer"), set_slot("recipient", "Jane"))
    assert chat.say("restart", {"command": "restart"}) == []
    assert "action_restart" in chat.actions()
    assert any(e["event"] == "restart" for e in chat.turn)
    assert chat.tracker.stack == [] and chat.slots["recipient"] is None


def test_session_end_hangs_up(chat):
    chat.say("bye", {"command": "session end"})
    assert "action_hangup" in chat.actions()
    ended = [e for e in chat.turn if e["event"] == "session_ended"]
    assert ended and ended[0]["metadata"]["_reason"] == "user_disconnected"


def test_user_silence_repeats_then_asks_then_hangs_up(chat):
    chat.say("send money", start("transfer"))
    silence = {"command": "user silence"}
    assert chat.say("", silence) == ["utter_ask_recipient"]
    assert chat.slots["consecutive_silence_timeouts"] == 1.0
    assert chat.say("", silence) == ["utter_ask_still_there", "utter_ask_recipient"]
    assert chat.say("", silence) == ["utter_inform_hangup"]
    assert "action_hangup" in chat.actions()
    assert any(e["event"] == "session_ended" for e in chat.turn)
    assert chat.tracker.stack == []


def test_a_user_message_resets_the_silence_count(chat):
    chat.say("send money", start("transfer"))
    chat.say("", {"command": "user silence"})
    chat.say("Jane", set_slot("recipient", "Jane"))
    assert chat.slots["consecutive_silence_timeouts"] == 0.0
    assert chat.say("", {"command": "user silence"}) == ["utter_ask_amount"]


def test_a_code_change_ends_the_running_flows(chat):
    chat.say("send money", start("transfer"))
    chat.say("balance", start("weather"))
    assert chat.say("", {"command": "handle code change"}) == [
        "utter_inform_code_change",
        "utter_ask_continue_conversation",
    ]
    assert "action_clean_stack" in chat.actions()
    completed = {f for kind, f in chat.flow_events() if kind == "flow_completed"}
    assert {"transfer", "weather", "pattern_code_change"} <= completed
    # As in Rasa, the last user flow ending empties the stack, so pattern_completed asks.
    assert chat.stack_flows() == ["pattern_completed", "pattern_collect_information"]


def test_unknown_command_kinds_are_dropped_with_a_log_line(chat, caplog):
    with caplog.at_level("INFO"):
        assert chat.say("x", {"command": "dance"}) == ["utter_ask_rephrase"]
    assert "unknown kind" in caplog.text


# -- overriding patterns ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "command"),
    [
        ("pattern_chitchat", {"command": "chitchat"}),
        ("pattern_search", {"command": "knowledge"}),
        ("pattern_human_handoff", {"command": "human handoff"}),
        ("pattern_cannot_handle", {"command": "cannot handle"}),
        ("pattern_internal_error", {"command": "error"}),
        ("pattern_clarification", {"command": "clarify", "options": ["transfer", "balance"]}),
        ("pattern_repeat_bot_messages", {"command": "repeat"}),
        ("pattern_user_silence", {"command": "user silence"}),
        ("pattern_session_end", {"command": "session end"}),
        ("pattern_restart", {"command": "restart"}),
    ],
)
def test_a_project_pattern_replaces_the_default(pattern, command):
    flows = (
        FLOWS
        + f"""
  {pattern}:
    description: the project's own
    steps:
      - action: utter_balance
"""
    )
    c = CommandChat(flows)
    # pattern_search ending with an empty stack is followed by pattern_completed, as in Rasa.
    completed = ["utter_ask_continue_conversation"] if pattern == "pattern_search" else []
    assert c.say("hi", command) == ["utter_balance", *completed]


def test_a_project_pattern_replaces_skip_question_and_code_change():
    flows = (
        FLOWS
        + """
  pattern_skip_question:
    description: mine
    steps:
      - action: utter_balance
  pattern_code_change:
    description: mine
    steps:
      - action: utter_weather
"""
    )
    c = CommandChat(flows)
    c.say("send money", start("transfer"))
    assert c.say("skip", {"command": "skip question"}) == ["utter_balance", "utter_ask_recipient"]
    assert c.say("", {"command": "handle code change"})[0] == "utter_weather"


# -- enterprise search -------------------------------------------------------------------------------

SEARCH_CONFIG = """
recipe: default.v1
language: en
pipeline: []
policies:
  - name: FlowPolicy
  - name: EnterpriseSearchPolicy
"""
SEARCH_FLOWS = (
    FLOWS
    + """
  pattern_search:
    description: answer from the documents
    steps:
      - action: action_trigger_search
"""
)


def search_chat(**kwargs: Any) -> CommandChat:
    kwargs.setdefault("docs", {"docs/help.md": PASSWORD_DOC})
    kwargs.setdefault("config", SEARCH_CONFIG)
    return CommandChat(SEARCH_FLOWS, **kwargs)


def test_search_answers_with_the_best_passage():
    c = search_chat()
    assert c.say("how can I reset my password?", {"command": "knowledge"}) == [None]
    assert c.texts()[0].startswith("Open Settings, choose Security and press Reset password.")
    actions = c.actions()
    assert actions[actions.index("action_trigger_search") + 1] == "action_send_text"
    bot = next(e for e in c.turn if e["event"] == "bot")
    assert bot["metadata"]["search_results"][0]["source"] == "docs/help.md"
    assert bot["metadata"]["search_results"][0]["title"] == "Resetting your password"


def test_search_without_a_relevant_passage_cannot_handle():
    c = search_chat()
    # Rasa Pro 3.21's EnterpriseSearchPolicy: no relevant document is "cannot handle" with the
    # reason cannot_handle_no_relevant_answer, which pattern_cannot_handle answers with
    # utter_no_relevant_answer_found.
    assert c.say("pizza recipes", {"command": "knowledge"}) == ["utter_no_relevant_answer_found"]
    assert ("flow_started", "pattern_cannot_handle") in c.flow_events()


def test_search_without_documents_or_the_policy_says_there_is_no_knowledge_base():
    # pattern_search runs to its end here, so pattern_completed follows (as in Rasa).
    assert search_chat(docs={}).say("opening hours?", {"command": "knowledge"}) == [
        "utter_no_knowledge_base",
        "utter_ask_continue_conversation",
    ]
    no_policy = "recipe: default.v1\nlanguage: en\npolicies: [{name: FlowPolicy}]\n"
    assert search_chat(config=no_policy).say("opening hours?", {"command": "knowledge"}) == [
        "utter_no_knowledge_base",
        "utter_ask_continue_conversation",
    ]


def test_search_answers_through_the_llm_hook_with_the_best_passages():
    c = search_chat()
    prompts: list[str] = []

    def llm(prompt: str) -> str:
        prompts.append(prompt)
        return "  From 9 to 5.  "

    c.processor.executor.search_llm = llm
    assert c.say("when are you open", {"command": "knowledge"}) == [None]
    assert c.texts() == ["From 9 to 5."]
    assert "Our branches are open from 9 to 5" in prompts[0]
    assert "Question: when are you open" in prompts[0]


def test_a_failing_llm_hook_is_an_internal_error():
    c = search_chat()

    def llm(prompt: str) -> str:
        raise TimeoutError("LLM timed out")

    c.processor.executor.search_llm = llm
    assert c.say("when are you open", {"command": "knowledge"}) == ["utter_internal_error_rasa"]


# -- the default patterns ----------------------------------------------------------------------------

ISSUE_PATTERNS = {
    "pattern_session_start",
    "pattern_completed",
    "pattern_continue_interrupted",
    "pattern_correction",
    "pattern_cancel_flow",
    "pattern_clarification",
    "pattern_chitchat",
    "pattern_search",
    "pattern_cannot_handle",
    "pattern_human_handoff",
    "pattern_internal_error",
    "pattern_skip_question",
    "pattern_repeat_bot_messages",
    "pattern_user_silence",
    "pattern_collect_information",
    "pattern_code_change",
}


def test_the_default_patterns_are_complete_and_their_responses_exist():
    ids = {f.id for f in default_flows()}
    assert ISSUE_PATTERNS <= ids
    assert ids <= DEFAULT_PATTERNS
    responses = {r.name for r in default_responses()}
    # Rasa's names, and the one of the pattern Rasa Pro had before 3.13 that we keep.
    assert responses <= DEFAULT_RESPONSES | {"utter_flow_continue_interrupted"}
    model = DialogueModel.build(project_from(DOMAIN, FLOWS))
    for flow_id in ids:
        for view in model.flows[flow_id].steps.values():
            target = view.target
            if view.kind == "action" and isinstance(target, str) and target.startswith("utter_"):
                assert target in responses, (flow_id, target)


def test_a_domain_response_replaces_a_default_one():
    domain = DOMAIN + '  utter_cannot_handle: [{text: "Nope."}]\n'
    files = {"domain.yml": domain, "data/flows.yml": FLOWS}
    model = DialogueModel.build(load_project_files(files))
    processor = Processor(model, ScriptedNlu(), seed=1)
    processor.understand = lambda tracker, parse: [{"command": "chitchat"}]  # type: ignore[method-assign]
    tracker = Tracker("t", model.initial_slots())
    messages = processor.handle_message(tracker, UserMessage("joke", "t"))
    assert [m["text"] for m in messages] == ["Nope."]


def test_the_default_patterns_validate_as_a_rasa_project():
    here = Path(engine.dialogue.__file__).parent
    files = {
        "config.yml": "recipe: default.v1\nlanguage: en\nassistant_id: defaults\n",
        "data/default_flows.yml": (here / "default_flows.yml").read_text(encoding="utf-8"),
        "domain.yml": (here / "default_responses.yml").read_text(encoding="utf-8"),
    }
    problems = validate_project(load_project_files(files))
    # Action names filled from a pattern's context at run time are not domain actions.
    errors = [p for p in problems if p.severity == "error" and "{{context." not in p.message]
    assert errors == []


def test_a_flow_that_never_listens_stops_with_an_internal_error():
    flows = (
        FLOWS
        + """
  loop:
    description: loops forever
    steps:
      - id: again
        set_slots:
          - note: x
        next: again
"""
    )
    c = CommandChat(flows)
    assert c.say("go", start("loop")) == ["utter_internal_error_rasa"]
    assert c.tracker.stack == []
    assert c.turn[-1]["event"] == "action" and c.turn[-1]["name"] == "action_listen"


def test_the_served_bot_answers_knowledge_questions_and_keeps_the_events():
    c = search_chat()
    with TestClient(create_app(Bot.from_processor(c.processor))) as client:
        c.queued = [{"command": "knowledge"}]
        reply = client.post("/webhooks/rest/webhook", json={"sender": "u", "message": "hours?"})
        assert reply.status_code == 200
        assert reply.json()[0]["text"] == "Our branches are open from 9 to 5 on weekdays."
        c.queued = [{"command": "session end"}]
        client.post("/webhooks/rest/webhook", json={"sender": "u", "message": "bye"})
        tracker = client.get("/conversations/u/tracker", params={"include_events": "ALL"}).json()
    kinds = [e["event"] for e in tracker["events"]]
    assert "session_ended" in kinds
    assert tracker["stack"] == []
