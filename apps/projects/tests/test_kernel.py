"""The content kernel's small reads and writes: flows triggered by an intent, and the flow
versions an import records."""

from apps.flows.models import Flow, FlowVersion
from apps.projects.content.usages import triggering_flows


def test_the_flows_an_intent_starts(db, make_assistant):
    assistant = make_assistant("bot")
    for name, triggers in (
        ("a", [{"intent": "greet"}]),
        ("b", [{"intent": {"name": "greet"}}]),
        ("c", [{"intent": "bye"}]),
        ("d", []),
        ("e", ["greet"]),
        ("f", [{"intent": {"name": "greet", "confidence_threshold": 0.5}}]),
    ):
        Flow.objects.create(assistant=assistant, name=name, definition={"nlu_trigger": triggers})
    assert triggering_flows(assistant, "greet") == ["a", "b", "e", "f"]
    assert triggering_flows(assistant, "other") == []


def test_an_import_records_a_version_of_each_added_or_changed_flow(db, make_assistant):
    assistant = make_assistant("bot")
    for name in ("same", "changed", "added"):
        Flow.objects.create(assistant=assistant, name=name, definition={"steps": [name]})
    before = {"same": {"steps": ["same"]}, "changed": {"steps": ["old"]}}
    FlowVersion.objects.record_import(assistant, before)
    recorded = FlowVersion.objects.filter(assistant=assistant)
    assert sorted(v.flow_name for v in recorded) == ["added", "changed"]
    assert {v.summary for v in recorded} == {"Imported"}
