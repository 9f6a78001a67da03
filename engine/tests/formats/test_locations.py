"""Where a project's files are: ``--config``, ``--domain``, ``--data`` and ``--endpoints``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.formats import (
    FormatError,
    collect_project,
    collect_project_files,
    dump_project,
    load_project_files,
    locate_files,
    validate_project,
)

SPLIT = Path(__file__).parents[1] / "rasa_projects" / "split-folders"

SPLIT_OPTIONS = {
    "config": "config/assistant.yml",
    "domain": "domain",
    "data": ["data/flows", "data/nlu"],
    "endpoints": "config/endpoints.yml",
}


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root


CONFIG = "recipe: default.v1\nlanguage: en\npipeline: []\npolicies: []\n"
DOMAIN = 'version: "3.1"\nintents: [greet]\nresponses:\n  utter_hi:\n  - text: hi\n'
FLOWS = (
    'version: "3.1"\nflows:\n  hi:\n    description: Say hi.\n    nlu_trigger: [greet]\n'
    "    steps:\n    - action: utter_hi\n"
)
NLU = 'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n    - hello\n'


def test_without_options_the_files_are_as_they_are(tmp_path):
    write(tmp_path, {"config.yml": CONFIG, "domain.yml": DOMAIN, "data/flows.yml": FLOWS})
    assert collect_project_files(tmp_path) == {
        "config.yml": CONFIG.encode(),
        "data/flows.yml": FLOWS.encode(),
        "domain.yml": DOMAIN.encode(),
    }


def test_config_names_another_file_and_the_root_config_is_left_out(tmp_path):
    write(tmp_path, {"config.yml": "old: true\n", "setup/bot.yml": CONFIG, "domain.yml": DOMAIN})
    located = collect_project(tmp_path, config="setup/bot.yml")
    assert located.files["config.yml"] == CONFIG.encode()
    assert "setup/bot.yml" not in located.files
    assert located.left_out == {"config.yml": "not used: --config names setup/bot.yml"}
    warning = located.left_out_warning()
    assert warning is not None and warning.severity == "warning"
    assert "config.yml (not used: --config names setup/bot.yml)" in warning.message


def test_endpoints_names_a_file(tmp_path):
    write(tmp_path, {"ops/endpoints.prod.yml": "action_endpoint:\n  url: http://a:5055/webhook\n"})
    files = collect_project_files(tmp_path, endpoints="ops/endpoints.prod.yml")
    assert list(files) == ["endpoints.yml"]
    assert b"http://a:5055" in files["endpoints.yml"]


def test_a_domain_file_becomes_domain_yml_and_the_default_domain_is_left_out(tmp_path):
    write(
        tmp_path,
        {
            "domain.yml": "intents: [old]\n",
            "domain/x.yml": "intents: [older]\n",
            "bot/d.yml": DOMAIN,
        },
    )
    located = collect_project(tmp_path, domain="bot/d.yml")
    assert located.files == {"domain.yml": DOMAIN.encode()}
    assert set(located.left_out) == {"domain.yml", "domain/x.yml"}


def test_a_domain_folder_keeps_its_file_names(tmp_path):
    write(
        tmp_path,
        {
            "bot/domain/intents.yml": "intents: [greet]\n",
            "bot/domain/cms/responses.yml": "responses:\n  utter_hi:\n  - text: hi\n",
        },
    )
    files = collect_project_files(tmp_path, domain="bot/domain")
    assert sorted(files) == ["domain/cms/responses.yml", "domain/intents.yml"]


def test_data_paths_go_under_data_and_unnamed_data_is_left_out(tmp_path):
    write(
        tmp_path,
        {
            "data/flows/a.yml": FLOWS,
            "data/nlu/b.yml": NLU,
            "data/old/stories.yml": "stories: []\n",
            "training/more.yml": NLU,
            "one.yml": FLOWS,
        },
    )
    located = collect_project(tmp_path, data=["data/flows", "data/nlu", "training", "one.yml"])
    assert sorted(located.files) == [
        "data/flows/a.yml",
        "data/nlu/b.yml",
        "data/one.yml",
        "data/training/more.yml",
    ]
    assert located.left_out == {
        "data/old/stories.yml": "not used: --data names data/flows, data/nlu, training, one.yml"
    }


def test_a_single_data_path_may_be_given_as_a_string(tmp_path):
    write(tmp_path, {"nlu.yml": NLU})
    assert list(collect_project_files(tmp_path, data="nlu.yml")) == ["data/nlu.yml"]


def test_data_dot_reads_the_whole_project_as_it_is(tmp_path):
    write(tmp_path, {"data/a.yml": FLOWS, "b.yml": NLU})
    assert sorted(collect_project_files(tmp_path, data=".")) == ["b.yml", "data/a.yml"]


def test_locations_outside_the_project_are_read_by_absolute_path(tmp_path):
    project = write(tmp_path / "project", {"prompts/p.jinja2": "Hi {{ user }}"})
    shared = write(
        tmp_path / "shared",
        {"config.yml": CONFIG, "domain/base.yml": DOMAIN, "flows/hi.yml": FLOWS},
    )
    files = collect_project_files(
        project,
        config=shared / "config.yml",
        domain=shared / "domain",
        data=[str(shared / "flows")],
    )
    assert sorted(files) == [
        "config.yml",
        "data/flows/hi.yml",
        "domain/base.yml",
        "prompts/p.jinja2",
    ]


def test_an_absolute_path_inside_the_project_is_moved_like_a_relative_one(tmp_path):
    write(tmp_path, {"setup/bot.yml": CONFIG})
    assert list(collect_project_files(tmp_path, config=tmp_path / "setup" / "bot.yml")) == [
        "config.yml"
    ]


def test_other_files_of_the_root_are_kept_and_models_are_not_read(tmp_path):
    write(
        tmp_path,
        {
            "setup/bot.yml": CONFIG,
            "credentials.yml": "rest:\n",
            "docs/faq.txt": "Opening hours: 9 to 6.",
            "prompts/p.jinja2": "x",
            "models/20250101.tar.gz": "not read",
            ".git/HEAD": "ref",
        },
    )
    files = collect_project_files(tmp_path, config="setup/bot.yml")
    assert sorted(files) == ["config.yml", "credentials.yml", "docs/faq.txt", "prompts/p.jinja2"]


@pytest.mark.parametrize(
    ("option", "value", "shown"),
    [
        ("config", "missing.yml", "--config"),
        ("domain", "nowhere", "--domain"),
        ("data", ["data", "gone/flows"], "--data"),
        ("endpoints", "ops/endpoints.yml", "--endpoints"),
    ],
)
def test_a_location_that_does_not_exist_names_the_option_and_the_path(
    tmp_path, option, value, shown
):
    write(tmp_path, {"data/flows.yml": FLOWS})
    with pytest.raises(FormatError) as caught:
        collect_project_files(tmp_path, **{option: value})
    (problem,) = caught.value.problems
    missing = value[-1] if isinstance(value, list) else value
    assert problem.path == shown
    assert problem.file == missing
    assert problem.message == "no such file or folder"
    assert str(problem) == f"{missing} ({shown}): error: no such file or folder"


def test_every_missing_location_is_reported_at_once(tmp_path):
    with pytest.raises(FormatError) as caught:
        collect_project_files(tmp_path, config="a.yml", domain="b", endpoints="c.yml")
    assert [p.path for p in caught.value.problems] == ["--config", "--endpoints", "--domain"]


def test_config_must_be_a_file(tmp_path):
    write(tmp_path, {"setup/bot.yml": CONFIG})
    with pytest.raises(FormatError) as caught:
        collect_project_files(tmp_path, config="setup")
    assert str(caught.value.problems[0]) == "setup (--config): error: name a file, not a folder"


def test_a_missing_project_folder_is_an_error(tmp_path):
    with pytest.raises(FormatError, match="no such project folder"):
        collect_project_files(tmp_path / "nope")


def test_two_outside_folders_of_the_same_name_collide_clearly(tmp_path):
    project = write(tmp_path / "p", {"x.txt": "x"})
    write(tmp_path / "a", {"data/f.yml": FLOWS})
    write(tmp_path / "b", {"data/f.yml": NLU})
    with pytest.raises(FormatError) as caught:
        collect_project_files(project, data=[tmp_path / "a" / "data", tmp_path / "b" / "data"])
    assert "would both become data/data/f.yml" in caught.value.problems[0].message


def test_a_link_inside_the_project_is_followed(tmp_path):
    write(tmp_path, {"shared/flows.yml": FLOWS, "setup/bot.yml": CONFIG})
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "flows.yml").symlink_to(tmp_path / "shared" / "flows.yml")
    (tmp_path / "conf").symlink_to(tmp_path / "setup", target_is_directory=True)
    files = collect_project_files(tmp_path, config="conf/bot.yml", data="data")
    assert files["data/flows.yml"] == FLOWS.encode()
    assert files["config.yml"] == CONFIG.encode()
    assert "conf/bot.yml" not in files  # moved, by the path it was named by
    assert files["setup/bot.yml"] == CONFIG.encode()  # the same file by its own path stays


def test_a_link_leading_outside_the_project_is_refused(tmp_path):
    project = write(tmp_path / "p", {"config.yml": CONFIG})
    write(tmp_path / "elsewhere", {"secrets.yml": "key: value\n"})
    (project / "stolen.yml").symlink_to(tmp_path / "elsewhere" / "secrets.yml")
    with pytest.raises(FormatError) as caught:
        collect_project_files(project, config="config.yml")
    (problem,) = caught.value.problems
    assert problem.file == "stolen.yml"  # project-relative, as the folder reader names files
    assert "outside the project folder" in problem.message
    assert str(tmp_path / "elsewhere" / "secrets.yml") in problem.message


# -- files already read (an uploaded archive) -------------------------------------------------


def test_locate_files_applies_the_options_inside_an_archive():
    files = {
        "bot/settings.yml": CONFIG.encode(),
        "bot/domain.yml": DOMAIN.encode(),
        "training/flows.yml": FLOWS.encode(),
        "credentials.yml": b"rest:\n",
    }
    located = locate_files(
        files, config="bot/settings.yml", domain="bot/domain.yml", data=["training"]
    )
    assert sorted(located.files) == [
        "config.yml",
        "credentials.yml",
        "data/training/flows.yml",
        "domain.yml",
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("/etc/passwd", "give a path inside the project, not an absolute one"),
        ("../outside.yml", "the path leaves the project"),
        ("nothing/here.yml", "no such file or folder"),
    ],
)
def test_locate_files_refuses_paths_naming_the_field(value, message):
    with pytest.raises(FormatError) as caught:
        locate_files({"config.yml": b"x"}, domain=value, names={"domain": "domain"})
    (problem,) = caught.value.problems
    assert (problem.file, problem.path) == (value, "domain")
    assert problem.message == message


# -- the split-folders project ------------------------------------------------------------------


def test_the_split_folders_project_loads_with_its_locations(tmp_path):
    located = collect_project(SPLIT, **SPLIT_OPTIONS)
    assert located.left_out == {
        "data/old/stories.yml": "not used: --data names data/flows, data/nlu"
    }
    project = load_project_files(located.files)
    assert sorted(f.id for f in project.flows) == ["greet", "opening_hours", "renew_book"]
    assert {i.intent for i in project.nlu.intents} == {"greet", "renew_book", "opening_hours"}
    assert {s.name for s in project.domain.slots} == {"book_title", "renewal_confirmed"}
    assert project.config is not None and project.config.assistant_id == "library_desk"
    assert project.endpoints is not None
    assert "credentials.yml" in project.other_files
    assert "prompts/rephrase.jinja2" in project.prompts
    assert not [p for p in validate_project(project) if p.severity == "error"]
    exported = dump_project(project)
    assert exported["config.yml"] == (SPLIT / "config" / "assistant.yml").read_text()
    assert exported["endpoints.yml"] == (SPLIT / "config" / "endpoints.yml").read_text()
    # The exported project, in the canonical layout, loads to the same project without options.
    again = write(tmp_path / "again", exported)
    assert load_project_files(collect_project_files(again)) == project


def test_without_its_options_the_split_folders_project_has_no_config(tmp_path):
    copy = shutil.copytree(SPLIT, tmp_path / "copy")
    project = load_project_files(collect_project_files(copy))
    assert project.config is None
