import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_documents_every_environment_variable():
    sources = [
        path
        for folder in ("studio", "apps", "workers", "engine")
        for path in (ROOT / folder).rglob("*.py")
        if "tests" not in path.parts and path.name != "env.py"
    ]
    names = set()
    for source in sources:
        names |= set(re.findall(r"env_\w+\(\s*\"([A-Z0-9_]+)\"", source.read_text()))
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)`", readme, re.MULTILINE))
    missing = sorted(names - documented)
    assert names, "no variables found: has the settings module changed shape?"
    assert not missing, f"README's configuration table lacks: {', '.join(missing)}"
