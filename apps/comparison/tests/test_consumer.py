"""A comparison run by a real training consumer on two trained versions that differ in one
response and one intent (and the flow it triggers)."""

import pytest
from django.utils import timezone

from apps.annotation.models import Annotation, Batch
from apps.comparison import services
from apps.comparison.models import Comparison
from apps.comparison.tests.fixtures import ingest_messages
from workers.training import TrainingConsumer

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def approve(assistant, event, conversation, intent):
    batch = Batch.objects.create(assistant=assistant, number=Batch.objects.count() + 1)
    return Annotation.objects.create(
        batch=batch,
        assistant=assistant,
        event=event,
        conversation=conversation,
        text=event.text,
        message_at=timezone.now(),
        intent=intent,
        status=Annotation.Status.APPROVED,
    )


def test_a_comparison_reports_the_four_sections(tiny_versions):
    assistant, base, candidate = tiny_versions
    conversation, events = ingest_messages(assistant, ["thank you", "hello", "bye", "/greet"])
    approve(assistant, events[0], conversation, "thanks")
    approve(assistant, events[1], conversation, "greet")
    comparison, created = services.request_comparison(candidate, None)
    assert created and comparison.base == base  # the live version by default

    TrainingConsumer(once=True, worker_id="comparer").run()
    comparison.refresh_from_db()
    assert comparison.status == Comparison.Status.SUCCEEDED, comparison.error
    assert comparison.worker_id == "comparer" and comparison.attempts == 1
    assert "Computing e2e test cases" in comparison.log
    result = comparison.result

    content = result["content"]
    assert [item["name"] for item in content["responses"]["changed"]] == ["utter_hello"]
    assert content["intents"]["added"] == ["thanks"]

    e2e = result["e2e"]
    assert e2e["cases"] == 2
    assert [row["name"] for row in e2e["passed_to_failed"]] == ["tests/e2e.yml::greeting_text"]
    failure = e2e["passed_to_failed"][0]["candidate"]["failure"]
    assert failure["step"] == 1 and "Hello from the tiny bot!" in failure["message"]
    assert e2e["failed_to_passed"] == [] and e2e["unchanged"] == 1

    held = result["nlu"]["held_out"]
    rows = {row["intent"]: row for row in held["rows"]}
    # The live version never predicts `thanks`; the candidate, retrained without the held-out
    # texts, does: thanks's F1 rises, and it is the first row.
    assert rows["thanks"]["base"]["f1"] == 0.0
    assert rows["thanks"]["candidate"]["f1"] > 0 and rows["thanks"]["f1_delta"] > 0
    assert held["rows"][0]["intent"] == "thanks"
    assert held["count"] + held["train_count"] == 18

    annotated = result["nlu"]["annotated"]
    assert annotated["count"] == 2
    by_intent = {row["intent"]: row for row in annotated["rows"]}
    assert by_intent["thanks"]["base"]["recall"] == 0.0
    assert by_intent["thanks"]["candidate"]["recall"] == 1.0

    triggers = result["triggers"]
    assert triggers["messages"] == 3  # the payload is not a real message
    flows = {row["flow"]: row for row in triggers["flows"]}
    assert flows["say_welcome"]["base"] == 0 and flows["say_welcome"]["candidate"] == 1
    assert flows["say_welcome"]["examples"][0]["message"] == "thank you"


def test_a_second_request_while_one_runs_returns_it(tiny_versions):
    _, base, candidate = tiny_versions
    first, _ = services.request_comparison(candidate, None)
    again, created = services.request_comparison(candidate, None, base=base)
    assert again == first and not created


def test_refusals_name_the_reason(tiny_versions):
    assistant, base, _ = tiny_versions
    with pytest.raises(services.Refused, match="is the live version"):
        services.request_comparison(base, None)
    untrained = assistant.versions.create(number=3, input_files={})
    with pytest.raises(services.Refused, match=r"Version 3 \(the candidate\) has not been trained"):
        services.request_comparison(untrained, None)


def test_a_missing_model_fails_the_model_sections_not_the_content(tiny_versions, settings):
    from django.core.files.storage import default_storage

    _, base, candidate = tiny_versions
    comparison, _ = services.request_comparison(candidate, None)
    default_storage.delete(base.model_file)
    TrainingConsumer(once=True, worker_id="comparer").run()
    comparison.refresh_from_db()
    assert comparison.status == Comparison.Status.SUCCEEDED
    assert comparison.result["content"]["total"] == 4
    for section in ("e2e", "nlu", "triggers"):
        assert "Version 1 cannot be loaded" in comparison.result[section]["error"]


def test_a_replay_marks_the_first_turn_that_diverges(tiny_versions):
    assistant, _, candidate = tiny_versions
    conversation, _ = ingest_messages(assistant, [])
    from apps.comparison.models import Replay

    done = "Can I help you with anything else?"  # pattern_completed asks (Rasa Pro 3.21)
    turns = [
        {"user": "bye", "bot": ["Bye now.", done], "flows": ["say_bye"]},
        {"user": "hello", "bot": ["Hello from the tiny bot!", done], "flows": ["say_hello"]},
    ]
    replay = services.request_replay(
        candidate, None, turns=turns, label="conversation", conversation=conversation
    )
    TrainingConsumer(once=True, worker_id="replayer").run()
    replay.refresh_from_db()
    assert replay.status == Replay.Status.SUCCEEDED, replay.error
    result = replay.result
    assert result["first_divergence"] == 2, result
    assert result["turns"][0]["differences"] == []
    assert result["turns"][1]["replayed"]["bot"] == ["Hi, this is the new tiny bot!", done]
    assert result["turns"][1]["differences"] == ["bot"]


def test_a_personal_version_is_compared_only_by_its_owner(tiny_versions, make_user):
    from apps.accounts.roles import Role

    _, _, candidate = tiny_versions
    owner, other = make_user("olga", Role.DEVELOPER), make_user("bea", Role.DEVELOPER)
    candidate.isolated, candidate.created_by = True, owner
    candidate.save()
    with pytest.raises(services.Refused, match="personal version"):
        services.request_comparison(candidate, other)
    assert services.request_comparison(candidate, owner)[1]
