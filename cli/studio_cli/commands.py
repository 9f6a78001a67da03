"""The commands: each takes the parsed arguments and returns nothing or raises a `CliError`."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from studio_cli import (
    auth,
    documents,
    linking,
    progress,
    project,
    prompting,
    settings,
    writer,
    yamlfiles,
)
from studio_cli.client import Studio
from studio_cli.errors import CliError, ExitCode


def say(message: str) -> None:
    print(message, flush=True)


# -- config and login ----------------------------------------------------------------------


def config(args: argparse.Namespace) -> None:
    url = settings.normalise_studio_url(
        args.url or prompting.ask("Studio URL (e.g. https://studio.example.com)", flag="--url")
    )
    auth_url = args.auth_url or (
        prompting.ask("Sign-in (Keycloak) URL", f"{url}auth/") if args.advanced else f"{url}auth/"
    )
    realm = args.realm or (
        prompting.ask("Realm", settings.DEFAULT_REALM) if args.advanced else settings.DEFAULT_REALM
    )
    client_id = args.client_id or (
        prompting.ask("Client ID", settings.DEFAULT_CLIENT_ID)
        if args.advanced
        else settings.DEFAULT_CLIENT_ID
    )
    chosen = settings.StudioConfig(
        authentication_server_url=settings.with_trailing_slash(auth_url),
        studio_url=f"{url}api/graphql/",
        client_id=client_id,
        realm_name=realm,
        disable_verify=args.disable_verify,
    )
    try:
        issuer = auth.check_realm(chosen)
    except CliError as exc:
        if not prompting.confirm(f"{exc.message}\nStore the configuration anyway?"):
            raise
    else:
        say(f"Reached the sign-in realm {issuer}.")
    path = settings.write_config(chosen)
    say(f"Studio at {url} configured in {path}.")


def login(args: argparse.Namespace) -> None:
    cfg = settings.read_config()
    username = args.username or prompting.ask("Username", flag="--username")
    password = args.password or os.environ.get("STUDIO_PASSWORD") or ""
    if not password:
        password = prompting.ask_secret("Password", "--password")
    auth.login(cfg, username, password)
    say(f"Signed in to Studio as {username}.")


# -- upload, link, push --------------------------------------------------------------------


def _paths(args: argparse.Namespace) -> project.Paths:
    return project.Paths(
        root=Path("."),
        data=[Path(p) for p in (args.data or [])],
        domain=Path(args.domain) if args.domain else None,
        config=Path(args.config) if args.config else None,
        endpoints=Path(args.endpoints) if args.endpoints else None,
    )


def upload(args: argparse.Namespace) -> None:
    studio = Studio.connect()
    studio.check_signed_in()
    paths = _paths(args).resolve()
    assert paths.config
    local = project.read_project(paths)
    name = args.assistant_name or _name_from_config(paths.config)
    existing = studio.assistant_id(name)
    if existing is not None:
        if not args.dangerously_delete_existing:
            raise CliError(
                f"Studio already has an assistant named {name!r}. Run `studio link {name}` and "
                "`studio push` to update it, or upload with --dangerously-delete-existing to "
                "replace it (its history in Studio is deleted).",
                ExitCode.REFUSED,
            )
        studio.delete_assistant(existing)
        say(f"Deleted the assistant {name!r} in Studio.")
    _send(studio, name, local.parts, local.prompts)
    say(f"Uploaded {name!r} to Studio.")


def _name_from_config(config_path: Path) -> str:
    default = yamlfiles.read_mapping(config_path).get("assistant_id")
    name = prompting.ask(
        "Assistant name", str(default) if default else None, flag="the assistant_name argument"
    )
    if not name:
        raise CliError("The assistant name is empty.")
    return name


def _send(studio: Studio, name: str, parts: dict[str, str], prompts: dict[str, str]) -> None:
    size = sum(len(text.encode("utf-8")) for text in parts.values())
    progress.step(f"Sending {', '.join(parts)} ({size / 1000:.1f} kB) to Studio...")
    started = time.monotonic()
    studio.upload(name, parts, prompts)
    progress.step(f"Studio took it in {time.monotonic() - started:.1f} s.")


def link(args: argparse.Namespace) -> None:
    cfg = settings.read_config().require_complete()
    studio = Studio.connect(cfg)
    studio.check_signed_in()
    root = Path(".")
    if studio.assistant_id(args.assistant_name) is None:
        if not prompting.confirm(
            f"Studio has no assistant {args.assistant_name!r}. Upload this project as it?"
        ):
            raise CliError(
                f"Studio has no assistant named {args.assistant_name!r}; nothing linked.",
                ExitCode.NOT_FOUND,
            )
        upload(argparse.Namespace(**{**vars(args), "dangerously_delete_existing": False}))
    current = linking.linked_assistant(root)
    if current == args.assistant_name:
        say(f"The project is already linked to {current!r}.")
        return
    if current and not prompting.confirm(
        f"The project is linked to {current!r}. Link it to {args.assistant_name!r} instead?"
    ):
        raise CliError(f"The project stays linked to {current!r}.")
    linking.write_link(root, args.assistant_name, cfg.require_studio_url())
    say(f"Linked the project to {args.assistant_name!r}.")


def push(args: argparse.Namespace) -> None:
    cfg = settings.read_config().require_complete()
    name = linking.require_linked(Path("."))
    studio = Studio.connect(cfg)
    studio.check_signed_in()
    paths = _paths(args).resolve()
    assert paths.config and paths.endpoints
    if args.part in ("config", "endpoints"):
        path = paths.config if args.part == "config" else paths.endpoints
        text = _raw(path)
        _send(studio, name, {args.part: text}, {})
    else:
        local = project.read_project(paths, whole_domain=True)
        parts = {**local.parts, "config": _raw(paths.config)}
        if paths.endpoints.is_file():
            parts["endpoints"] = _raw(paths.endpoints)
        _send(studio, name, parts, {})
    say(f"Pushed {args.part or 'the project'} to {name!r}.")


def _raw(path: Path) -> str:
    """`push` sends config and endpoints as the files' text, after checking they parse."""
    yamlfiles.read_mapping(path)
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        raise CliError(f"{path}: the file is empty.", ExitCode.REFUSED)
    return text


# -- download, pull, train -----------------------------------------------------------------


def download(args: argparse.Namespace) -> None:
    studio = Studio.connect()
    export = studio.export(args.assistant_name)
    target = Path(args.output or args.assistant_name)
    if (
        target.exists()
        and not args.overwrite
        and not prompting.confirm(f"{target} exists. Overwrite it?")
    ):
        raise CliError(f"{target} exists: give --overwrite to replace it.")
    written = writer.write_project(export, target)
    say(f"Downloaded {args.assistant_name!r} into {target}/ ({len(written)} files).")


def pull(args: argparse.Namespace) -> None:
    from studio_cli import pulling

    cfg = settings.read_config().require_complete()
    name = linking.require_linked(Path("."))
    export = Studio.connect(cfg).export(name)
    paths = _paths(args).resolve()
    assert paths.config and paths.endpoints and paths.domain
    if args.part in (None, "config"):
        yamlfiles.write_text(paths.config, writer.require(export, "config"))
    if args.part in (None, "endpoints"):
        yamlfiles.write_text(paths.endpoints, writer.require(export, "endpoints"))
    if args.part is None:
        pulling.merge(export, paths)
    say(f"Pulled {args.part or 'the assistant'} from {name!r}.")


def train(args: argparse.Namespace) -> None:
    studio = Studio.connect()
    export = studio.export(args.assistant_name)
    target = Path(args.project or args.assistant_name)
    writer.write_project(export, target)
    say(f"Downloaded {args.assistant_name!r} into {target}/.")
    out = Path(args.out)
    if not args.rasa and _engine_available():
        say("Training with the built-in engine (python -m engine train).")
        command = [sys.executable, "-m", "engine", "train", str(target), "--out", str(out)]
    elif shutil.which("rasa"):
        say("Training with Rasa (rasa train).")
        command = ["rasa", "train", "--data", str(target / "data"), "--out", str(out)]
        command += ["--config", str(target / "config.yml"), "--domain", str(target / "domain.yml")]
    else:
        raise CliError("Neither Studio's engine nor Rasa is installed here to train with.")
    if subprocess.call(command) != 0:
        raise CliError("Training failed (see above).", ExitCode.REFUSED)


def _engine_available() -> bool:
    """Whether `python -m engine` would run here (from a Studio checkout, or with it on
    PYTHONPATH): asked of the same interpreter the training would run in."""
    probe = [sys.executable, "-c", "import engine.train"]
    return subprocess.call(probe, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0


# -- versions, model files, conversations --------------------------------------------------


def versions(args: argparse.Namespace) -> None:
    """From `GET /api/v1/assistants/<name>/versions`, newest first."""
    studio = Studio.connect()
    rows = studio.get_json(f"api/v1/assistants/{quote(args.assistant_name, safe='')}/versions")
    if args.json:
        say(json.dumps(rows, indent=2))
        return
    if not rows:
        say(f"{args.assistant_name!r} has no versions.")
    for row in rows:
        columns = ("number", "name", "training_status", "trained_at")
        line = "\t".join(str(row.get(key) or "-") for key in columns)
        say(line + ("\tlive" if row.get("live") else ""))


def model_download(args: argparse.Namespace) -> None:
    studio = Studio.connect()
    assistant_id = studio.require_assistant_id(args.assistant_name)
    variables = {"input": {"assistantId": assistant_id, "assistantVersionName": args.version}}
    urls = studio.graphql(documents.MODEL_DOWNLOAD_URLS, variables).get("modelDownloadUrls") or {}
    url = urls.get("modelInputUrl" if args.input else "modelFileUrl")
    if not url:
        raise CliError(f"Studio has no version {args.version!r}.", ExitCode.NOT_FOUND)
    default = f"{args.version}-input.zip" if args.input else f"{args.version}.tar.gz"
    target = Path(args.output or default)
    size = studio.download(url, target, progress.bar(f"Downloading {target.name}"))
    say(f"Wrote {target} ({size} bytes).")


PAGE_SIZE = 100


def conversations_export(args: argparse.Namespace) -> None:
    studio = Studio.connect()
    assistant_id = studio.require_assistant_id(args.assistant_name)
    target = Path(args.output) if args.output else None
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", delete=False, dir=target.parent if target else None
    ) as partial:
        count = _export_pages(studio, assistant_id, args, partial)
    if target is None:
        with open(partial.name, encoding="utf-8") as stream:
            sys.stdout.write(stream.read())
        os.unlink(partial.name)
        return
    os.replace(partial.name, target)
    say(f"Wrote {count} conversations to {target}.")


def _export_pages(studio: Studio, assistant_id: str, args: argparse.Namespace, out) -> int:
    written, offset = 0, 0
    while True:
        query = {"assistantId": assistant_id, "limit": PAGE_SIZE, "offset": offset}
        query.update({"fromTime": args.from_time, "toTime": args.to_time})
        if args.tag:
            query["tags"] = args.tag
        data = studio.graphql(documents.RAW_CONVERSATIONS, {"input": query})
        page = data.get("rawConversations") or {}
        conversations = page.get("conversations") or []
        for conversation in conversations:
            out.write(json.dumps(conversation, ensure_ascii=False) + "\n")
        written += len(conversations)
        offset += len(conversations)
        if not conversations or offset >= int(page.get("count") or 0):
            return written
