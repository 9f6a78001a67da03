"""python -m bench [NAME ...]: run the benchmarks against scratch data and print their figures.

Without names, every bench runs (what `make bench` does). The engine's benches (STANDALONE) run
as processes of their own (`python -m bench.nlu`...: no database, and some pin themselves to one
CPU); the others run here, against a scratch database: with a PostgreSQL `DATABASE_URL`, a
database created on that server for this run and dropped after it; otherwise SQLite in a scratch
folder, which is also `STUDIO_VAR_DIR`. A user's own database is never written.

A bench that fails prints its error and the others go on; the exit status is then 1.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
import uuid
from urllib.parse import urlsplit, urlunsplit

#: The engine's benches: each is `python -m bench.NAME` with its own output.
STANDALONE = [
    "bench.nlu",
    "bench.nlu_public",
    "bench.engine",
    "bench.offline",
    "bench.llm",
    "bench.classic",
]

#: Benches run in this process, each a `run()` yielding figures.
SUITES = [
    "bench.content",
    "bench.flows",
    "bench.training",
    "bench.ingestion",
    "bench.canvas",
    "bench.analytics",
    "bench.testing",
]


class ScratchDatabase:
    """A PostgreSQL database of its own for one run, on the server `url` names (its database
    is only connected to, to create and drop the scratch one)."""

    def __init__(self, url: str) -> None:
        self.server_url = url
        self.name = f"studio_bench_{uuid.uuid4().hex[:10]}"
        parts = urlsplit(url)
        self.url = urlunsplit(parts._replace(path=f"/{self.name}"))

    def _execute(self, sql: str) -> None:
        import psycopg

        parts = urlsplit(self.server_url)
        # The server's maintenance database, or the one the URL names if there is none.
        try:
            connection = psycopg.connect(
                urlunsplit(parts._replace(path="/postgres")), autocommit=True
            )
        except psycopg.OperationalError:
            connection = psycopg.connect(self.server_url, autocommit=True)
        with connection:
            connection.execute(sql)

    def create(self) -> None:
        self._execute(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def _is_postgres(url: str) -> bool:
    return urlsplit(url).scheme in ("postgres", "postgresql", "pgsql")


def _run_standalone(name: str) -> bool:
    print(f"== python -m {name}", flush=True)
    result = subprocess.run([sys.executable, "-m", name], check=False)
    if result.returncode != 0:
        print(f"!! {name} failed (exit status {result.returncode})", flush=True)
        return False
    return True


def _run_suite(name: str) -> bool:
    from django.db import connections

    try:
        module = importlib.import_module(name)
        print(f"== {(module.__doc__ or name).strip().splitlines()[0]}", flush=True)
        for figure in module.run():
            print(figure.line(), flush=True)
    except Exception:
        traceback.print_exc()
        print(f"!! {name} failed", flush=True)
        # A later bench starts on a fresh connection, whatever state this one left.
        connections.close_all()
        return False
    finally:
        _leave_test_environment()
    return True


def _leave_test_environment() -> None:
    """Undo a bench's `setup_test_environment()` (the page benches call it), so that the next
    one can call it again."""
    from django.test.utils import teardown_test_environment

    with contextlib.suppress(AttributeError):  # this bench did not set it up
        teardown_test_environment()


def _setup_django() -> bool:
    """Django on the scratch database, migrated. False (the error printed) if that fails."""
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
    except Exception:
        traceback.print_exc()
        print("!! the scratch database could not be set up", flush=True)
        return False
    return True


def main(argv: list[str]) -> int:
    names = [name if name.startswith("bench.") else f"bench.{name}" for name in argv]
    names = names or [*STANDALONE, *SUITES]
    unknown = [name for name in names if name not in STANDALONE and name not in SUITES]
    if unknown:
        print(f"unknown bench: {', '.join(unknown)}", file=sys.stderr)
        return 2

    scratch_dir = tempfile.mkdtemp(prefix="studio-bench-")
    os.environ["STUDIO_VAR_DIR"] = scratch_dir
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    database = None
    url = os.environ.get("DATABASE_URL", "")
    if _is_postgres(url):
        database = ScratchDatabase(url)
        database.create()
        os.environ["DATABASE_URL"] = database.url
        print(f"scratch database {database.name} (dropped at the end)", flush=True)
    else:
        # SQLite in the scratch folder (settings' default under STUDIO_VAR_DIR).
        os.environ.pop("DATABASE_URL", None)
    failed: list[str] = []
    try:
        migrated = False
        for name in names:
            if name in STANDALONE:
                ok = _run_standalone(name)
            elif not migrated and not _setup_django():
                ok = False
            else:
                migrated = True
                ok = _run_suite(name)
            if not ok:
                failed.append(name)
    finally:
        if migrated:
            from django.db import connections

            connections.close_all()
        if database is not None:
            database.drop()
        shutil.rmtree(scratch_dir, ignore_errors=True)
    if failed:
        print(f"!! {len(failed)} bench(es) failed: {', '.join(failed)}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
