"""What runs inside a training or bot pod (the Kubernetes runner), beside the engine.

Standard library only, so that the same file also runs under a Rasa Pro image's Python: the
init container (Studio's image) copies it into the pod's shared volume with `--copy-self`.

    fetch --url-env NAME --into PATH [--extract] [--copy-self PATH]
        GET the URL in $NAME (Studio's web, a signed link) into PATH; with --extract, PATH is a
        folder and the answer a zip of the project's files.
    train --out DIR --name NAME --upload-env NAME -- COMMAND...
        run the training COMMAND (its output is the pod's log), then PUT DIR/NAME.tar.gz (or the
        newest archive in DIR) to the URL in $NAME. Exits with the command's code.
    ready --port N
        the readiness probe: 0 when the bot's /status answers 200 (with the bot's API token from
        $ENGINE_AUTH_TOKEN, when there is one).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import TypeVar

T = TypeVar("T")
TOKEN_VARIABLE = "ENGINE_AUTH_TOKEN"  # the built-in engine's (engine.__main__)
ATTEMPTS = 5
CHUNK = 1 << 20


def say(message: str) -> None:
    sys.stdout.write(f"[studio] {message}\n")
    sys.stdout.flush()


def _url(variable: str) -> str:
    url = os.environ.get(variable, "")
    if not url:
        raise SystemExit(f"[studio] ${variable} is not set: nowhere to fetch from or send to.")
    return url


def _with_retries(what: str, action: Callable[[], T]) -> T:
    """Retry `action` on network errors and 5xx answers (the web may be restarting); a 4xx
    answer (an expired or refused link) fails at once."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return action()
        except urllib.error.HTTPError as exc:
            if exc.code < 500 or attempt == ATTEMPTS:
                detail = exc.read(500).decode("utf-8", "replace")
                raise SystemExit(f"[studio] {what}: HTTP {exc.code} {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            if attempt == ATTEMPTS:
                raise SystemExit(f"[studio] {what}: {exc}") from None
        say(f"{what}: attempt {attempt} failed, retrying")
        time.sleep(min(2**attempt, 30))
    raise AssertionError("unreachable")


def _download(url: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    with urllib.request.urlopen(url, timeout=60) as answer, partial.open("wb") as out:
        shutil.copyfileobj(answer, out, CHUNK)
    partial.replace(target)


def extract(archive: Path, folder: Path) -> int:
    """Unpack a zip of project files into `folder`, refusing names that would land outside
    it. Returns how many files."""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    with zipfile.ZipFile(archive) as bundle:
        for member in bundle.infolist():
            if member.is_dir():
                continue
            name = PurePosixPath(member.filename)
            if name.is_absolute() or ".." in name.parts or not name.parts:
                raise SystemExit(f"[studio] refusing the archive's entry {member.filename!r}")
            destination = folder.joinpath(*name.parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            with bundle.open(member) as source, destination.open("wb") as out:
                shutil.copyfileobj(source, out, CHUNK)
            count += 1
    return count


def prepare_folders() -> None:
    """HOME and TMPDIR point into the pod's volume (the root filesystem is read-only)."""
    for variable in ("HOME", "TMPDIR"):
        if os.environ.get(variable):
            with contextlib.suppress(OSError):
                Path(os.environ[variable]).mkdir(parents=True, exist_ok=True)


def fetch(args: argparse.Namespace) -> int:
    prepare_folders()
    url = _url(args.url_env)
    target = Path(args.into)
    if args.extract:
        archive = target.with_name(target.name + ".zip")
        _with_retries("fetching the project", lambda: _download(url, archive))
        say(f"fetched {extract(archive, target)} files into {target}")
        archive.unlink()
    else:
        _with_retries("fetching the model", lambda: _download(url, target))
        say(f"fetched {target.name} ({target.stat().st_size} bytes)")
    if args.copy_self:
        copy = Path(args.copy_self)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(__file__, copy)
    return 0


def _archive_in(out: Path, name: str) -> Path | None:
    expected = out / f"{name}.tar.gz"
    if expected.is_file():
        return expected
    found = sorted(out.glob("*.tar.gz"), key=lambda path: path.stat().st_mtime)
    return found[-1] if found else None


def _upload(url: str, archive: Path) -> None:
    size = archive.stat().st_size
    with archive.open("rb") as body:
        request = urllib.request.Request(
            url,
            data=body,
            method="PUT",
            headers={"Content-Type": "application/gzip", "Content-Length": str(size)},
        )
        with urllib.request.urlopen(request, timeout=300) as answer:
            answer.read()


def train(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise SystemExit("[studio] no training command given after --")
    url = _url(args.upload_env)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    prepare_folders()
    code = subprocess.call(command)
    if code != 0:
        say(f"the training exited with code {code}")
        return code
    archive = _archive_in(out, args.name)
    if archive is None:
        say(f"the training wrote no model archive into {out}")
        return 1
    _with_retries("sending the model", lambda: _upload(url, archive))
    say(f"sent {archive.name} ({archive.stat().st_size} bytes)")
    return 0


def ready(args: argparse.Namespace) -> int:
    query = ""
    if os.environ.get(TOKEN_VARIABLE):
        query = "?" + urllib.parse.urlencode({"token": os.environ[TOKEN_VARIABLE]})
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{args.port}/status{query}", timeout=args.timeout
        ) as answer:
            return 0 if answer.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        sys.stderr.write(f"the bot does not answer yet: {exc}\n")
        return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pod.py", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="what", required=True)
    fetching = commands.add_parser("fetch")
    fetching.add_argument("--url-env", required=True)
    fetching.add_argument("--into", required=True)
    fetching.add_argument("--extract", action="store_true")
    fetching.add_argument("--copy-self")
    training = commands.add_parser("train")
    training.add_argument("--out", required=True)
    training.add_argument("--name", required=True)
    training.add_argument("--upload-env", required=True)
    training.add_argument("command", nargs=argparse.REMAINDER)
    probing = commands.add_parser("ready")
    probing.add_argument("--port", type=int, required=True)
    probing.add_argument("--timeout", type=float, default=2)
    args = parser.parse_args(argv)
    return {"fetch": fetch, "train": train, "ready": ready}[args.what](args)


if __name__ == "__main__":
    sys.exit(main())
