"""The content diff, the held-out split and the scores, on fixture data (pure functions)."""

import pytest

from apps.comparison import metrics
from apps.comparison.diff import UnreadableVersion, content_changes
from apps.comparison.replay import compare_runs, turns_of_events
from apps.comparison.summary import summary_lines
from apps.comparison.tests.fixtures import BASE, CANDIDATE


def test_the_content_diff_names_each_added_removed_and_changed_item():
    changes = content_changes(BASE, CANDIDATE)
    assert changes["responses"]["added"] == ["utter_welcome"]
    assert [item["name"] for item in changes["responses"]["changed"]] == ["utter_hello"]
    diff = changes["responses"]["changed"][0]["diff"]
    assert "-  - text: Hello from the tiny bot!" in diff
    assert "+  - text: Hi, this is the new tiny bot!" in diff
    assert changes["intents"]["added"] == ["thanks"]
    assert changes["intents"]["changed"] == []  # greet and bye kept their examples
    assert changes["flows"]["added"] == ["say_welcome"]
    assert changes["flows"]["changed"] == changes["slots"]["changed"] == []
    assert changes["total"] == 4


def test_the_content_diff_is_empty_between_equal_snapshots_and_symmetric():
    assert content_changes(BASE, dict(BASE))["total"] == 0
    back = content_changes(CANDIDATE, BASE)
    assert back["intents"]["removed"] == ["thanks"]
    assert back["flows"]["removed"] == ["say_welcome"]


def test_a_changed_intent_shows_its_example_changes():
    edited = {**BASE, "data/nlu.yml": BASE["data/nlu.yml"].replace("- hi friend", "- howdy")}
    changed = content_changes(BASE, edited)["intents"]["changed"]
    assert [item["name"] for item in changed] == ["greet"]
    assert "-    - hi friend\n+    - howdy" in changed[0]["diff"]


def test_an_unreadable_version_names_the_file():
    broken = {**CANDIDATE, "domain.yml": "intents: [greet\n"}
    with pytest.raises(UnreadableVersion) as caught:
        content_changes(BASE, broken)
    assert caught.value.label == "the candidate"
    assert "domain.yml" in str(caught.value)


def test_the_split_is_deterministic_and_keeps_every_intent_on_both_sides():
    pairs = [("hello", "greet"), ("hi", "greet"), ("hey", "greet"), ("bye", "bye"), ("ciao", "bye")]
    train, test = metrics.held_out_split(pairs)
    assert metrics.held_out_split(list(reversed(pairs))) == (train, test)
    for intent in ("greet", "bye"):
        assert any(i == intent for _, i in train) and any(i == intent for _, i in test)
    assert sorted(train + test) == sorted(pairs)
    # One example only: it trains, nothing of it is held out.
    assert metrics.held_out_split([("yes", "affirm")]) == ([("yes", "affirm")], [])


def test_the_split_holds_out_about_one_in_five():
    pairs = [(f"message {n}", f"intent_{n % 4}") for n in range(400)]
    _, test = metrics.held_out_split(pairs)
    assert 50 <= len(test) <= 110


def test_per_intent_scores():
    pairs = [("greet", "greet"), ("greet", "bye"), ("bye", "bye"), ("thanks", None)]
    scores = metrics.per_intent_scores(pairs)
    assert scores["intents"]["greet"] == {
        "precision": 1.0,
        "recall": 0.5,
        "f1": 0.6667,
        "support": 2,
    }
    assert scores["intents"]["bye"] == {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1}
    assert scores["intents"]["thanks"] == {
        "precision": None,
        "recall": 0.0,
        "f1": 0.0,
        "support": 1,
    }
    assert scores["accuracy"] == 0.5 and scores["count"] == 4


def test_score_rows_put_the_biggest_f1_change_first():
    base = metrics.per_intent_scores([("greet", "greet"), ("thanks", "greet")])
    candidate = metrics.per_intent_scores([("greet", "greet"), ("thanks", "thanks")])
    rows = metrics.score_rows(base, candidate)
    assert [row["intent"] for row in rows] == ["thanks", "greet"]
    assert rows[0]["f1_delta"] == 1.0 and rows[1]["f1_delta"] == pytest.approx(0.3333)


def test_outcome_changes():
    ok = {"status": "passed", "failure": None}
    bad = {"status": "failed", "failure": {"step": 1, "line": 4, "message": "x"}}
    changes = metrics.outcome_changes(
        {"a": ok, "b": bad, "c": ok, "gone": ok}, {"a": bad, "b": ok, "c": ok, "new": ok}
    )
    assert [row["name"] for row in changes["passed_to_failed"]] == ["a"]
    assert changes["passed_to_failed"][0]["candidate"]["failure"]["step"] == 1
    assert [row["name"] for row in changes["failed_to_passed"]] == ["b"]
    assert changes["unchanged"] == 1
    assert changes["only_candidate"] == ["new"] and changes["only_base"] == ["gone"]


def test_trigger_changes():
    rows = [
        ("thank you", "say_hello", "say_welcome"),
        ("hello", "say_hello", "say_hello"),
        ("cheers", None, "say_welcome"),
    ]
    changes = metrics.trigger_changes(rows)
    assert changes["messages"] == 3 and changes["changed"] == 2
    by_flow = {row["flow"]: row for row in changes["flows"]}
    assert by_flow["say_welcome"]["base"] == 0 and by_flow["say_welcome"]["candidate"] == 2
    assert by_flow["say_hello"]["lost"] == 1 and by_flow["say_hello"]["candidate"] == 1
    assert by_flow["say_hello"]["examples"][0]["message"] == "thank you"


def test_replay_turns_and_first_divergence():
    events = [
        {"event": "bot", "text": "Welcome!"},  # before the first message: not a turn
        {"event": "user", "text": "hello"},
        {"event": "flow_started", "flow_id": "say_hello"},
        {"event": "bot", "text": "Hello from the tiny bot!"},
        {"event": "user", "text": "thanks"},
        {"event": "flow_started", "flow_id": "pattern_cannot_handle"},
        {"event": "bot", "text": "Sorry?"},
    ]
    original = turns_of_events(events)
    assert original == [
        {"user": "hello", "bot": ["Hello from the tiny bot!"], "flows": ["say_hello"]},
        {"user": "thanks", "bot": ["Sorry?"], "flows": []},
    ]
    replayed = [original[0], {"user": "thanks", "bot": ["You are welcome."], "flows": ["x"]}]
    result = compare_runs(original, replayed)
    assert result["first_divergence"] == 2
    assert result["turns"][1]["differences"] == ["bot", "flow"]
    assert compare_runs(original, original)["first_divergence"] is None


def test_the_summary_has_a_line_per_section():
    result = {
        "content": content_changes(BASE, CANDIDATE),
        "e2e": {
            "cases": 2,
            "passed_to_failed": [{}],
            "failed_to_passed": [],
            "counts": {"candidate": {"passed": 1}},
        },
        "nlu": {
            "held_out": {
                "count": 4,
                "rows": [{"intent": "thanks", "f1_delta": 1.0}],
                "accuracy": {"base": 0.5, "candidate": 1.0},
            }
        },
        "triggers": {"error": "no model"},
    }
    lines = summary_lines(result)
    assert lines[0] == "Content: flows 1 added; responses 1 added, 1 changed; intents 1 added."
    assert lines[1].startswith("E2E tests: 1 case passed on the live version and fail")
    assert "F1 higher for thanks" in lines[2] and "50% live, 100% candidate" in lines[2]
    assert lines[3] == "Flow triggers could not be compared: no model"
