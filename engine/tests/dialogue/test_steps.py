"""Every step type, `next` branching, END and jumps, driven through the processor."""

from engine.tests.dialogue.conftest import ActionResult, RecordingActions

DOMAIN = """
version: "3.1"
intents: [start, other, go]
slots:
  name:
    type: text
    mappings: [{type: from_text}]
  age:
    type: float
    mappings: [{type: from_entity, entity: number}]
  flag:
    type: bool
    mappings: [{type: controlled}]
  counter:
    type: float
    initial_value: 0
    mappings: [{type: controlled}]
  child_value:
    type: text
    mappings: [{type: controlled}]
responses:
  utter_ask_name: [{text: "What's your name?"}]
  utter_ask_age: [{text: "How old are you?"}]
  utter_hello: [{text: "Hello {name}!"}]
  utter_adult: [{text: "adult"}]
  utter_minor: [{text: "minor"}]
  utter_done: [{text: "done"}]
  utter_child: [{text: "child"}]
  utter_after_call: [{text: "after call with {child_value}"}]
  utter_loop: [{text: "loop"}]
  utter_other: [{text: "other"}]
  utter_ask_continue_conversation: [{text: "anything else?"}]
actions: [action_custom]
"""


def test_it_runs_actions_and_collects_until_listen(chat_factory):
    flows = """
    flows:
      greet:
        description: greet
        nlu_trigger: [{intent: start}]
        steps:
          - collect: name
          - action: utter_hello
    """
    chat = chat_factory(DOMAIN, flows, {"hi": ("start", 0.9)})
    assert chat.say("hi") == ["utter_ask_name"]
    assert chat.say("Ada") == ["utter_hello", "utter_ask_continue_conversation"]
    assert chat.texts()[0] == "Hello Ada!"
    assert chat.actions()[-1] == "action_listen"
    assert [f["flow_id"] for f in chat.stack] == [
        "pattern_completed",
        "pattern_collect_information",
    ]


def test_it_skips_a_collect_whose_slot_is_filled_and_asks_before_filling_when_told(chat_factory):
    flows = """
    flows:
      f:
        description: f
        nlu_trigger: [{intent: start}]
        steps:
          - collect: age
          - collect: name
            ask_before_filling: true
          - action: utter_done
    """
    chat = chat_factory(DOMAIN, flows, {"I am 30": ("start", 0.9, [("number", "30")])})
    chat.preset(name="preset")
    assert chat.say("I am 30") == ["utter_ask_name"]
    assert ("name", None) in chat.slot_events()
    assert chat.slots["age"] == 30.0


def test_it_says_the_collect_utter_and_runs_a_custom_ask_action_too(chat_factory):
    # Rasa's pattern_collect_information runs `{{context.utter}}` and then
    # `{{context.collect_action}}`, each only when the domain has it: with both the response
    # utter_ask_age and the custom action action_ask_age, both are run.
    domain = DOMAIN.replace("actions: [action_custom]", "actions: [action_custom, action_ask_age]")
    flows = """
    flows:
      f:
        description: f
        nlu_trigger: [{intent: start}]
        steps:
          - collect: name
            utter: utter_hello
          - collect: age
    """
    actions = RecordingActions(
        {"action_ask_age": ActionResult(responses=[{"text": "custom question"}])}
    )
    chat = chat_factory(domain, flows, {"go": ("start", 0.9)}, actions=actions)
    assert chat.say("go") == ["utter_hello"]
    chat.say("Bob")
    assert chat.texts() == ["How old are you?", "custom question"]
    assert actions.calls[0][0] == "action_ask_age"
    assert chat.actions()[-3:] == ["utter_ask_age", "action_ask_age", "action_listen"]


def test_it_branches_with_if_then_else_and_jumps_to_ids(chat_factory):
    flows = """
    flows:
      f:
        description: f
        nlu_trigger: [{intent: start}]
        steps:
          - collect: age
            next:
              - if: slots.age >= 18
                then:
                  - action: utter_adult
                    next: finish
              - else:
                  - action: utter_minor
                    next: finish
          - action: utter_other
          - id: finish
            action: utter_done
    """
    chat = chat_factory(
        DOMAIN,
        flows,
        {"a": ("start", 0.9, [("number", 40)]), "b": ("start", 0.9, [("number", 12)])},
    )
    assert chat.say("a") == ["utter_adult", "utter_done", "utter_ask_continue_conversation"]
    chat2 = chat_factory(DOMAIN, flows, {"b": ("start", 0.9, [("number", 12)])})
    assert chat2.say("b") == ["utter_minor", "utter_done", "utter_ask_continue_conversation"]


def test_it_ends_a_flow_at_END_and_loops_with_set_slots(chat_factory):
    flows = """
    flows:
      f:
        description: f
        nlu_trigger: [{intent: start}]
        steps:
          - id: top
            action: utter_loop
            next:
              - if: slots.counter >= 2
                then: END
              - else: bump
          - id: bump
            set_slots:
              - counter: 2
            next: top
          - action: utter_other
    """
    chat = chat_factory(DOMAIN, flows, {"go": ("start", 0.9)})
    assert chat.say("go") == ["utter_loop", "utter_loop", "utter_ask_continue_conversation"]
    # set_slots values are reset when the flow ends (not persisted).
    assert chat.slots["counter"] == 0


def test_it_runs_set_slots_and_noop_steps(chat_factory):
    flows = """
    flows:
      f:
        description: f
        nlu_trigger: [{intent: start}]
        persisted_slots: [flag]
        steps:
          - set_slots:
              - flag: true
              - child_value: x
          - noop: true
            next:
              - if: slots.flag
                then:
                  - action: utter_done
                    next: END
              - else: END
    """
    chat = chat_factory(DOMAIN, flows, {"go": ("start", 0.9)})
    assert chat.say("go") == ["utter_done", "utter_ask_continue_conversation"]
    assert ("flag", True) in chat.slot_events()
    assert chat.slots["flag"] is True  # persisted
    assert chat.slots["child_value"] is None  # reset at the end


def test_it_links_to_another_flow(chat_factory):
    flows = """
    flows:
      a:
        description: a
        nlu_trigger: [{intent: start}]
        steps:
          - action: utter_hello
          - link: b
      b:
        description: b
        if: false
        steps:
          - action: utter_done
    """
    chat = chat_factory(DOMAIN, flows, {"go": ("start", 0.9)})
    assert chat.say("go") == ["utter_hello", "utter_done", "utter_ask_continue_conversation"]
    assert chat.flow_events()[:4] == [
        ("flow_started", "a"),
        ("flow_completed", "a"),
        ("flow_started", "b"),
        ("flow_completed", "b"),
    ]
    link_frame = [e for e in chat.turn_events if e["event"] == "stack" and '"link"' in e["update"]]
    assert link_frame


def test_it_calls_a_child_flow_and_returns_with_its_slots_visible(chat_factory):
    flows = """
    flows:
      parent:
        description: parent
        nlu_trigger: [{intent: start}]
        steps:
          - call: child
          - action: utter_after_call
      child:
        description: child
        if: false
        steps:
          - collect: name
          - set_slots:
              - child_value: from child
          - action: utter_child
    """
    chat = chat_factory(DOMAIN, flows, {"go": ("start", 0.9)})
    assert chat.say("go") == ["utter_ask_name"]
    assert chat.stack_flows()[:2] == ["parent", "child"]
    assert chat.say("Zoe") == ["utter_child", "utter_after_call", "utter_ask_continue_conversation"]
    assert chat.texts()[1] == "after call with from child"
    # The child's slots are reset when the parent ends.
    assert chat.slots["name"] is None and chat.slots["child_value"] is None


def test_it_calls_custom_actions_and_applies_their_events_and_responses(chat_factory):
    flows = """
    flows:
      f:
        description: f
        nlu_trigger: [{intent: start}]
        persisted_slots: [name]
        steps:
          - action: action_custom
          - action: utter_hello
    """
    actions = RecordingActions(
        {
            "action_custom": ActionResult(
                events=[{"event": "slot", "name": "name", "value": "Sam"}],
                responses=[{"response": "utter_done"}, {"text": "raw text"}],
            )
        }
    )
    chat = chat_factory(DOMAIN, flows, {"go": ("start", 0.9)}, actions=actions)
    chat.say("go")
    assert chat.texts() == ["done", "raw text", "Hello Sam!", "anything else?"]
    name, tracker, domain = actions.calls[0]
    assert name == "action_custom"
    assert tracker["sender_id"] == "tester" and tracker["events"]
    assert "slots" in domain and "responses" in domain
    assert chat.slots["name"] == "Sam"


def test_a_flow_guard_blocks_starting_and_if_false_allows_only_triggers_links_and_calls(
    chat_factory,
):
    flows = """
    flows:
      guarded:
        description: guarded
        if: slots.flag
        nlu_trigger: [{intent: start}]
        steps:
          - action: utter_done
      hidden:
        description: hidden
        if: false
        nlu_trigger: [{intent: other}]
        steps:
          - action: utter_other
    """
    chat = chat_factory(DOMAIN, flows, {"go": ("start", 0.9), "other": ("other", 0.9)})
    assert chat.say("go") == ["utter_ask_rephrase"]
    chat.preset(flag=True)
    assert chat.say("go") == ["utter_done", "utter_ask_continue_conversation"]
    assert chat.say("other") == ["utter_other", "utter_ask_continue_conversation"]
    assert chat.say("/StartFlow(hidden)") == ["utter_other", "utter_ask_continue_conversation"]


def test_nlu_trigger_thresholds_are_respected(chat_factory):
    flows = """
    flows:
      f:
        description: f
        nlu_trigger:
          - intent: {name: start, confidence_threshold: 0.8}
        steps:
          - action: utter_done
    """
    chat = chat_factory(DOMAIN, flows, {"weak": ("start", 0.7), "strong": ("start", 0.85)})
    assert chat.say("weak") == ["utter_ask_rephrase"]
    assert chat.say("strong") == ["utter_done", "utter_ask_continue_conversation"]


def test_an_active_flow_is_not_restarted_by_its_trigger(chat_factory):
    flows = """
    flows:
      f:
        description: f
        nlu_trigger: [{intent: start}]
        steps:
          - collect: name
          - action: utter_done
    """
    chat = chat_factory(DOMAIN, flows, {"go": ("start", 0.9)})
    chat.say("go")
    chat.say("/start")
    assert [f for f in chat.stack_flows() if f == "f"] == ["f"]
