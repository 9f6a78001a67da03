"""`dump_yaml` remembers the text of recent documents: an unchanged document gives the text the
emitter writes, and any change (a value, a key's place, a value's type, a shared object) is
written afresh."""

from __future__ import annotations

import io

from engine.formats import yamlio
from engine.formats.project import dump_project, load_project_files
from engine.formats.yamlio import double_quoted, dump_yaml, literal


def emitted(data) -> str:
    """What the emitter itself writes, with nothing remembered."""
    stream = io.StringIO()
    yamlio._new_dumper().dump(data, stream)
    return stream.getvalue()


def test_a_remembered_document_is_the_emitted_text_and_a_changed_one_is_emitted_again() -> None:
    yamlio._dumped.clear()
    data = {"version": double_quoted("3.1"), "responses": {"utter_hi": [{"text": "Hi"}]}}
    first = dump_yaml(data)
    assert first == emitted(data)
    assert len(yamlio._dumped) == 1
    assert (
        dump_yaml({"version": double_quoted("3.1"), "responses": {"utter_hi": [{"text": "Hi"}]}})
        == first
    )
    changes = [
        {"version": double_quoted("3.1"), "responses": {"utter_hi": [{"text": "Hello"}]}},
        {"version": "3.1", "responses": {"utter_hi": [{"text": "Hi"}]}},  # not double-quoted
        {"responses": {"utter_hi": [{"text": "Hi"}]}, "version": double_quoted("3.1")},  # order
        {"version": double_quoted("3.1"), "responses": {"utter_hi": [{"text": literal("Hi")}]}},
        {"version": double_quoted("3.1"), "responses": {"utter_hi": [{"text": 1}]}},
        {"version": double_quoted("3.1"), "responses": {"utter_hi": [{"text": True}]}},
        {"version": double_quoted("3.1"), "responses": {"utter_hi": [{"text": "1"}]}},
    ]
    texts = [dump_yaml(change) for change in changes]
    assert texts == [emitted(change) for change in changes]
    assert len({*texts, first}) == len(changes) + 1


def test_a_document_with_a_shared_object_is_not_remembered() -> None:
    yamlio._dumped.clear()
    shared = {"text": "Hi"}
    data = {"a": [shared], "b": [shared]}
    assert dump_yaml(data) == emitted(data)
    assert "&" in dump_yaml(data)  # an anchor and an alias
    assert not yamlio._dumped


def test_only_the_last_documents_are_remembered() -> None:
    yamlio._dumped.clear()
    for n in range(yamlio.DUMP_MEMORY + 5):
        dump_yaml({"n": n})
    assert len(yamlio._dumped) == yamlio.DUMP_MEMORY


def test_a_project_dumps_to_the_same_bytes_with_and_without_memory() -> None:
    from demo.reference_assistant import generate_reference_project

    project = load_project_files(generate_reference_project())
    yamlio._dumped.clear()
    first = dump_project(project)
    again = dump_project(project)
    yamlio._dumped.clear()
    assert dump_project(project) == first == again
