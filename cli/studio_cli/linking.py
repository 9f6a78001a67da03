"""`.rasa/studio.yml`: which Studio assistant a project is linked to, as Rasa's `link` writes it."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from studio_cli import yamlfiles
from studio_cli.errors import CliError


def link_file(root: Path) -> Path:
    return root / ".rasa" / "studio.yml"


def write_link(root: Path, assistant_name: str, studio_url: str) -> Path:
    linked_at = datetime.now(timezone.utc).replace(tzinfo=None).isoformat() + "Z"
    path = link_file(root)
    yamlfiles.write(
        path, {"assistant_name": assistant_name, "studio_url": studio_url, "linked_at": linked_at}
    )
    return path


def linked_assistant(root: Path) -> str | None:
    path = link_file(root)
    if not path.is_file():
        return None
    name = yamlfiles.read_mapping(path).get("assistant_name")
    return name if isinstance(name, str) and name else None


def require_linked(root: Path) -> str:
    name = linked_assistant(root)
    if name is None:
        raise CliError(
            "This project is not linked to a Studio assistant: run `studio link <assistant>`."
        )
    return name
