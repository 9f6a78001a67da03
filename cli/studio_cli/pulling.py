"""`studio pull`: Studio's assistant merged into the local project, as Rasa's `pull` merges.

Flows are written where they are defined (the flow replaced inside its file) or, when new, as
`<data>/flows/<flow_id>.yml`; NLU for intents no local file has goes to `<data>/studio_nlu.yml`
(intents a local file has are rewritten in that file); what Studio's domain has that the local
domain lacks goes to `studio_domain.yml` beside (or inside) the local domain.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio_cli import project, writer, yamlfiles


def merge(export: dict[str, Any], paths: project.Paths) -> None:
    assert paths.domain
    data_root = paths.data[0]
    if not data_root.exists() and not data_root.suffix:
        data_root.mkdir(parents=True)
    local = project.read_data(paths.data) if data_root.exists() else project.TrainingData()
    _merge_flows(writer.flows_of(export), local, data_root)
    _merge_nlu(export.get("nlu"), paths.data, data_root)
    _merge_domain(export.get("domain"), paths.domain)


def _merge_flows(flows: dict[str, Any], local: project.TrainingData, data_root: Path) -> None:
    for flow_id, flow in flows.items():
        file = local.flow_files.get(flow_id)
        if file is None:
            folder = data_root.parent if data_root.is_file() else data_root
            writer.write_flows({flow_id: flow}, folder / "flows")
            continue
        document = yamlfiles.read_mapping(file)
        document["flows"][flow_id] = {k: v for k, v in flow.items() if k != "id"}
        yamlfiles.write(file, document)


def _merge_nlu(text: str | None, data_paths: list[Path], data_root: Path) -> None:
    if not text:
        return
    studio = yamlfiles.load_text(text, "the exported NLU data") or {}
    items = {_key(item): item for item in studio.get("nlu") or [] if isinstance(item, dict)}
    for path in data_paths:
        for file in project.yaml_files(path) if path.exists() else []:
            document = yamlfiles.read_mapping(file)
            nlu = document.get("nlu")
            if not isinstance(nlu, list) or not any(_key(i) in items for i in nlu):
                continue
            document["nlu"] = [items.pop(_key(i), i) if isinstance(i, dict) else i for i in nlu]
            yamlfiles.write(file, document)
    if items:
        folder = data_root.parent if data_root.is_file() else data_root
        yamlfiles.write(folder / "studio_nlu.yml", {"version": "3.1", "nlu": list(items.values())})


def _key(item: dict) -> tuple[str, str]:
    for kind in project.NLU_KEYS:
        if kind in item:
            return kind, str(item[kind])
    return "", ""


def _merge_domain(text: str | None, domain_path: Path) -> None:
    if not text:
        return
    studio = yamlfiles.load_text(text, "the exported domain") or {}
    local = project.read_domain(domain_path) if domain_path.exists() else {}
    missing: dict[str, Any] = {}
    for key, value in studio.items():
        if key == "version":
            continue
        have = local.get(key)
        extra: Any
        if isinstance(value, list):
            extra = [item for item in value if not isinstance(have, list) or item not in have]
        elif isinstance(value, dict):
            have = have if isinstance(have, dict) else {}
            extra = {name: entry for name, entry in value.items() if name not in have}
        else:
            extra = value if have is None else None
        if extra:
            missing[key] = extra
    if missing:
        folder = domain_path if domain_path.is_dir() else domain_path.parent
        yamlfiles.write(folder / "studio_domain.yml", {"version": "3.1", **missing})
