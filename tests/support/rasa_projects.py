"""The test projects of ``engine/tests/rasa_projects/``, read as ``{relative path: content}``."""

from pathlib import Path

RASA_PROJECTS = Path(__file__).resolve().parents[2] / "engine" / "tests" / "rasa_projects"


def folder_bytes(root: Path) -> dict[str, bytes]:
    """Every file under `root` by its relative path, as bytes, but for the compiled Python that
    running a project's custom actions leaves in ``__pycache__/`` folders."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.relative_to(root).parts
    }


def project_texts(name: str) -> dict[str, str]:
    """Every file of the test project `name`, as text."""
    return {path: data.decode("utf-8") for path, data in folder_bytes(RASA_PROJECTS / name).items()}
