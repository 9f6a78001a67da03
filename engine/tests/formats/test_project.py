import pytest

from engine.formats import (
    FormatError,
    dump_project,
    load_project_dir,
    load_project_files,
    validate_project,
    write_project_dir,
)
from engine.tests.formats.sample_project import PROMPT, files


def _write(root, content):
    for rel, text in content.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize("layout", ["single", "folder"])
def test_it_loads_validates_dumps_and_reloads(tmp_path, layout):
    _write(tmp_path, files(layout))
    project = load_project_dir(tmp_path)
    assert validate_project(project) == []
    assert project.load_warnings == []

    assert [f.id for f in project.flows] == ["transfer_money", "check_balance", "pick_account"]
    assert [i.name for i in project.domain.intents][:2] == ["greet", "transfer_money"]
    assert project.domain.slot("amount").validation.rejections[0].utter == "utter_invalid_amount"
    assert project.config.assistant_id == "banking-demo"
    assert project.config.language == "en"
    assert project.endpoints.event_broker["type"] == "kafka"
    assert project.prompts == {"prompts/command_generator.jinja2": PROMPT}
    # e2e tests are kept as the assistant's test cases, never read as training data
    assert project.test_files == {"tests/e2e_test_cases.yml": "test_cases: []\n"}

    dumped = dump_project(project)
    assert sorted(dumped) == [
        "config.yml",
        "data/flows.yml",
        "data/nlu.yml",
        "domain.yml",
        "endpoints.yml",
        "prompts/command_generator.jinja2",
        "tests/e2e_test_cases.yml",
    ]
    assert dumped["config.yml"].startswith("# The assistant's pipeline; comments are preserved.")
    assert dump_project(project) == dumped

    out = tmp_path / "out"
    write_project_dir(project, out)
    again = load_project_dir(out)
    assert again == project
    assert dump_project(again) == dumped
    assert validate_project(again) == []


def test_both_layouts_give_the_same_project():
    single = load_project_files(files("single"))
    folder = load_project_files(files("folder"))
    assert single == folder
    assert dump_project(single) == dump_project(folder)


def test_it_keeps_source_locations():
    project = load_project_files(files("folder"))
    flow = project.flow("transfer_money")
    assert (flow.source_file, flow.source_line) == ("data/flows/transfer.yml", 3)
    slot = project.domain.slot("amount")
    assert (slot.source_file, slot.source_line) == ("domain/slots.yml", 7)
    response = project.domain.response("utter_greet")
    assert (response.source_file, response.source_line) == ("domain/responses.yml", 3)
    assert project.nlu.intents[1].source_line == 7


def test_it_reads_every_section_of_a_mixed_data_file():
    project = load_project_files(
        {
            "domain.yml": "intents:\n  - greet\n",
            "data/everything.yml": (
                "nlu:\n  - intent: greet\n    examples: |\n      - hi\n"
                "flows:\n  hello:\n    description: Say hi.\n    steps:\n      - action: utter_hi\n"
                "responses:\n  utter_hi:\n    - text: Hi!\n"
            ),
            "data/stories.yml": "stories:\n  - story: s\n    steps:\n      - intent: greet\n",
        }
    )
    assert project.flow("hello") is not None
    assert project.domain.response("utter_hi").variations[0].text == "Hi!"
    assert project.nlu.intents[0].examples[0].text == "hi"
    assert project.other_files == {
        "data/stories.yml": "stories:\n  - story: s\n    steps:\n      - intent: greet\n"
    }
    assert validate_project(project) == []


def test_it_refuses_paths_outside_the_project():
    with pytest.raises(FormatError) as info:
        load_project_files({"../domain.yml": "intents: []\n"})
    assert info.value.problems[0].message == "file paths must be relative to the project root"
