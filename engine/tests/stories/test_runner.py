"""The test story runner: how stories are read, played and judged, on the Seaside Inn assistant
(in process, custom actions doing nothing; the assistant's own action server is used in
`test_reference_assistant`)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from engine.e2e import ProcessorConversation
from engine.formats import FormatError
from engine.server.app import create_app
from engine.server.runtime import Bot
from engine.test_stories import (
    parse_test_stories,
    run_story,
    run_test_stories,
    run_test_stories_http,
    story_summary,
)

from .conftest import make_processor


def _stories(body: str) -> str:
    return 'version: "3.1"\nstories:\n' + body


GREET_AND_BYE = _stories(
    """
  - story: greet and leave
    steps:
      - user: |
          hello there
        intent: greet
      - action: utter_greet
      - user: |
          bye
        intent: goodbye
      - action: utter_goodbye
"""
)


@pytest.fixture(scope="module")
def processor(seaside_model):
    return make_processor(seaside_model)


def _run(processor, text: str):
    stories = parse_test_stories(text, "tests/test_x.yml")
    return run_test_stories(stories, processor)


# -- reading -----------------------------------------------------------------------------


def test_user_steps_send_the_plain_text_or_the_intent_payload():
    (story,) = parse_test_stories(
        _stories(
            """
  - story: s
    steps:
      - slot_was_set:
          - room_number: "204"
      - user: |
          late checkout for room [204](room_number)
        intent: ask_late_checkout
      - action: action_check_late_checkout
      - slot_was_set:
          - late_checkout: true
      - intent: inform
        entities:
          - seating: terrace
      - bot: "Thanks!"
"""
        ),
        "tests/test_x.yml",
    )
    assert story.slots == {"room_number": "204"}  # the slots before the first message only
    start, first, second = story.turns
    assert start.user is None and start.actions == []
    assert first.user.message == "late checkout for room 204"
    assert first.user.intent == "ask_late_checkout"
    assert first.user.entities == [
        {"start": 23, "end": 26, "entity": "room_number", "value": "204"}
    ]
    assert [a.name for a in first.actions] == ["action_check_late_checkout"]
    assert second.user.message == '/inform{"seating": "terrace"}' and second.user.text is None
    assert second.actions[0].text == "Thanks!" and second.actions[0].line == 17


def test_each_alternative_of_an_or_is_a_story_and_checkpoints_are_skipped():
    stories = parse_test_stories(
        _stories(
            """
  - story: thanks or bye
    steps:
      - or:
          - intent: thank_you
          - intent: goodbye
      - action: utter_goodbye
  - story: joined
    steps:
      - checkpoint: greeted
      - intent: goodbye
      - action: utter_goodbye
"""
        ),
        "tests/test_x.yml",
    )
    assert [s.name for s in stories] == ["thanks or bye (1/2)", "thanks or bye (2/2)", "joined"]
    assert [s.turns[1].user.message for s in stories[:2]] == ["/thank_you", "/goodbye"]
    assert stories[2].unsupported and "checkpoint 'greeted'" in stories[2].unsupported[0]


def test_a_malformed_test_story_file_is_refused_with_file_and_line():
    with pytest.raises(FormatError) as caught:
        parse_test_stories(
            _stories("  - story: s\n    steps:\n      - action: [utter_greet]\n"),
            "tests/test_bad.yml",
        )
    (problem,) = caught.value.problems
    assert problem.file == "tests/test_bad.yml" and problem.line == 5
    assert "action" in problem.message


# -- judging -----------------------------------------------------------------------------


def test_a_story_whose_predictions_are_all_right_passes(processor):
    (result,) = _run(processor, GREET_AND_BYE)
    assert result.status == "passed" and result.failure is None
    # every action of the story, and the listen ending each turn
    assert [(p["expected"], p["predicted"]) for p in result.predictions] == [
        ("utter_greet", "utter_greet"),
        ("action_listen", "action_listen"),
        ("utter_goodbye", "utter_goodbye"),
        ("action_listen", "action_listen"),
    ]
    assert result.predictions[0]["policy"] == "RulePolicy"
    assert result.actions == result.correct_actions == 4


def test_a_wrong_action_fails_the_story_at_its_line_with_what_was_predicted(processor):
    text = GREET_AND_BYE.replace("      - action: utter_greet\n", "      - action: utter_iamabot\n")
    (result,) = _run(processor, text)
    assert result.status == "failed"
    assert result.failure["line"] == 9 and result.failure["step"] == 1
    assert result.failure["message"] == (
        "wrong action: expected utter_iamabot, predicted utter_greet (RulePolicy, 1.00)"
    )
    assert result.failure["expected"] == {"action": "utter_iamabot"}
    # the conversation went on: the second turn was still played and judged
    assert result.actions == 4 and result.correct_actions == 3


def test_the_bot_must_stop_where_the_story_waits_for_the_user(processor):
    text = _stories(
        """
  - story: greets twice
    steps:
      - user: hi
        intent: greet
      - action: utter_greet
      - action: utter_greet
"""
    )
    (result,) = _run(processor, text)
    assert result.failure["message"] == (
        "wrong action: expected utter_greet, predicted action_listen (RulePolicy, 1.00)"
    )
    silent = _stories(
        "  - story: says nothing\n    steps:\n      - user: hi\n        intent: greet\n"
    )
    (result,) = _run(processor, silent)
    assert result.failure["message"].startswith(
        "wrong action: expected action_listen, predicted utter_greet"
    )


def test_a_wrong_intent_fails_the_story(processor):
    text = GREET_AND_BYE.replace("        intent: goodbye\n", "        intent: thank_you\n")
    (result,) = _run(processor, text)
    assert result.status == "failed" and result.failure["line"] == 10
    assert result.failure["message"].startswith(
        "wrong intent for 'bye': expected thank_you, predicted goodbye ("
    )
    assert result.failure["actual"]["intent"] == "goodbye"


def test_wrong_entities_fail_the_story(processor):
    text = _stories(
        """
  - story: a room number taken for a party size
    steps:
      - user: |
          late checkout for room [204](number)
        intent: ask_late_checkout
      - action: action_check_late_checkout
"""
    )
    (result,) = _run(processor, text)
    assert result.failure["message"] == (
        "wrong entities for 'late checkout for room 204': expected number='204', "
        "predicted room_number='204'"
    )


def test_a_full_retrieval_intent_is_compared_with_the_response_selectors_choice(processor):
    text = _stories(
        """
  - story: small talk
    steps:
      - user: |
          what's your name?
        intent: chitchat/ask_name
      - action: utter_chitchat
      - user: |
          tell me a joke
        intent: chitchat/ask_weather
      - action: utter_chitchat
"""
    )
    (result,) = _run(processor, text)
    assert result.failure["line"] == 10
    assert result.failure["message"].startswith(
        "wrong intent for 'tell me a joke': expected chitchat/ask_weather, predicted "
        "chitchat/tell_joke"
    )
    assert result.correct_actions == result.actions == 4


def test_an_action_the_form_rejected_is_not_a_prediction(seaside_model):
    text = _stories(
        """
  - story: interrupted
    steps:
      - user: |
          book a table
        intent: book_table
      - action: table_booking_form
      - active_loop: table_booking_form
      - user: |
          stop
        intent: stop
      - action: utter_ask_continue
"""
    )
    (story,) = parse_test_stories(text, "tests/test_x.yml")
    conversation = ProcessorConversation(make_processor(seaside_model)(), "interrupted")
    result = run_story(conversation, story)
    assert result.status == "passed", result.failure
    rejected = [e for e in conversation.tracker.events if e["event"] == "action_execution_rejected"]
    assert [e["name"] for e in rejected] == ["table_booking_form"]


def test_stories_play_the_same_over_http(seaside_model):
    text = GREET_AND_BYE + GREET_AND_BYE.split("stories:\n")[1].replace(
        "greet and leave", "wrongly thanked"
    ).replace("      - action: utter_goodbye\n", "      - action: utter_you_are_welcome\n")
    stories = parse_test_stories(text, "tests/test_x.yml")
    local = run_test_stories(stories, make_processor(seaside_model))
    with TestClient(create_app(Bot.from_processor(make_processor(seaside_model)()))) as client:
        remote = run_test_stories_http(stories, client)
    assert [r.as_dict() for r in remote] == [r.as_dict() for r in local]
    assert [r.status for r in remote] == ["passed", "failed"]
    assert (
        remote[1]
        .failure["message"]
        .startswith("wrong action: expected utter_you_are_welcome, predicted utter_goodbye")
    )


def test_an_unreachable_bot_fails_each_story_with_the_reason():
    stories = parse_test_stories(GREET_AND_BYE, "tests/test_x.yml")
    (result,) = run_test_stories_http(stories, "http://127.0.0.1:9", timeout=2)
    assert result.status == "failed" and result.failure["step"] is None
    assert "cannot GET" in result.failure["message"]


def test_the_summary_counts_stories_and_actions(processor):
    wrong = GREET_AND_BYE.replace(
        "      - action: utter_greet\n", "      - action: utter_iamabot\n"
    )
    results = _run(processor, GREET_AND_BYE) + _run(processor, wrong)
    summary = story_summary(results)
    assert summary["stories"] == 2 and summary["passed"] == 1 and summary["failed"] == 1
    assert summary["story_accuracy"] == 0.5
    assert (summary["correct_actions"], summary["actions"]) == (7, 8)
    assert summary["action_accuracy"] == 7 / 8
