"""A persisted dialogue model's domain and flows load as the same objects that reading them as
project files gives (the bot parses the JSON's values directly, without a YAML parser)."""

from __future__ import annotations

import json

import pytest

from demo import HARBOR_BANK
from demo.reference_assistant import generate_reference_project
from engine.dialogue import DialogueModel
from engine.dialogue.model import MODEL_FILE, _parse_persisted
from engine.formats import (
    FormatError,
    domain_to_dict,
    flows_to_dict,
    load_project_dir,
    load_project_files,
)

SEASIDE_INN = HARBOR_BANK.parent / "seaside_inn"


def _project(name: str):
    if name == "reference":
        return load_project_files(generate_reference_project())
    return load_project_dir({"harbor_bank": HARBOR_BANK, "seaside_inn": SEASIDE_INN}[name])


@pytest.mark.parametrize("project", ["harbor_bank", "seaside_inn", "reference"])
def test_the_persisted_domain_and_flows_load_as_the_files_would(project, tmp_path):
    model = DialogueModel.build(_project(project))
    model.persist(tmp_path)
    data = json.loads((tmp_path / MODEL_FILE).read_text(encoding="utf-8"))
    # What loading them as the files domain.yml and data/flows.yml gives.
    files = load_project_files(
        {
            "domain.yml": json.dumps(data["domain"], ensure_ascii=False),
            "data/flows.yml": json.dumps(data["flows"], ensure_ascii=False),
        }
    )
    domain, flows = _parse_persisted(data)
    assert domain == files.domain
    assert flows == files.flows
    assert domain_to_dict(domain) == data["domain"]
    assert flows_to_dict(flows) == data["flows"]
    loaded = DialogueModel.load(tmp_path)
    assert set(loaded.flows) == set(model.flows)
    assert loaded.domain_dict() == model.domain_dict()


def test_a_persisted_model_with_a_broken_domain_is_refused_naming_the_field(tmp_path):
    model = DialogueModel.build(load_project_dir(HARBOR_BANK))
    model.persist(tmp_path)
    data = json.loads((tmp_path / MODEL_FILE).read_text(encoding="utf-8"))
    data["domain"]["slots"] = ["not", "a", "mapping"]
    with pytest.raises(FormatError) as caught:
        _parse_persisted(data)
    assert caught.value.problems[0].file == "domain.yml"
    assert caught.value.problems[0].path.startswith("slots")
