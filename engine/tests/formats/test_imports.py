import subprocess
import sys


def test_it_imports_without_django():
    code = (
        "import sys, engine.formats; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework')); "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_public_api_is_exported():
    import engine.formats as formats

    for name in formats.__all__:
        assert hasattr(formats, name), name
