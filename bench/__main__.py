"""python -m bench [NAME ...]: run benchmarks against a scratch database and print figures."""

import importlib
import os
import sys
import tempfile

SUITES = [
    "bench.content",
    "bench.flows",
    "bench.training",
    "bench.ingestion",
    "bench.canvas",
    "bench.analytics",
    "bench.testing",
]


def main(argv: list[str]) -> int:
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("STUDIO_VAR_DIR", tempfile.mkdtemp(prefix="studio-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    names = argv or SUITES
    for name in names:
        module = importlib.import_module(name if name.startswith("bench.") else f"bench.{name}")
        print(f"== {module.__doc__.strip().splitlines()[0]}", flush=True)
        for figure in module.run():
            print(figure.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
