"""`studio`: the argument parser and the one place that turns errors into exit codes.

Exit codes (also in the README): 0 ok, 1 usage, 2 sign-in, 3 not found or not allowed,
4 refused (invalid files, or Studio refused them), 5 cannot reach Studio.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone

from studio_cli import __version__, commands
from studio_cli.errors import CliError, ExitCode

EPILOG = (
    "Exit codes: 0 ok, 1 usage, 2 sign-in needed or refused, 3 not found or not allowed, "
    "4 invalid or refused by Studio, 5 cannot reach Studio."
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise CliError(f"{self.prog}: {message}", ExitCode.USAGE)


def _project_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-d", "--data", action="append", help="data file or directory (default: data/; repeatable)"
    )
    parser.add_argument("--domain", help="domain file or directory (default: domain.yml, domain/)")
    parser.add_argument("-c", "--config", help="config file (default: config.yml)")
    parser.add_argument("--endpoints", help="endpoints file (default: endpoints.yml)")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="studio",
        description="Studio's command line: sign in, upload, download and train assistants.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"studio {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("config", help="set where Studio and its sign-in realm are", epilog=EPILOG)
    p.add_argument("--url", help="Studio's URL, e.g. https://studio.example.com")
    p.add_argument("--auth-url", help="sign-in (Keycloak) URL (default: <url>auth/)")
    p.add_argument("--realm", help="realm (default: rasa-studio)")
    p.add_argument("--client-id", help="client ID (default: admin-cli)")
    p.add_argument("--advanced", action="store_true", help="ask for sign-in URL, realm and client")
    p.add_argument(
        "-x", "--disable-verify", action="store_true", help="skip TLS certificate checks"
    )
    p.set_defaults(handler=commands.config)

    p = sub.add_parser("login", help="sign in (password grant) and store the tokens")
    p.add_argument("--username")
    p.add_argument("--password", help="(default: $STUDIO_PASSWORD, else asked)")
    p.set_defaults(handler=commands.login)

    p = sub.add_parser("upload", help="upload a local project as a new assistant", epilog=EPILOG)
    p.add_argument("assistant_name", nargs="?", help="(default: asked; config's assistant_id)")
    _project_arguments(p)
    p.add_argument(
        "--dangerously-delete-existing",
        action="store_true",
        help="delete an assistant of that name in Studio first",
    )
    p.set_defaults(handler=commands.upload)

    p = sub.add_parser("download", help="download an assistant into <assistant_name>/")
    p.add_argument("assistant_name")
    p.add_argument("-o", "--output", help="directory (default: <assistant_name>)")
    p.add_argument("--overwrite", action="store_true", help="replace the directory if it exists")
    p.set_defaults(handler=commands.download)

    p = sub.add_parser("link", help="link this project to an assistant (.rasa/studio.yml)")
    p.add_argument("assistant_name")
    _project_arguments(p)
    p.set_defaults(handler=commands.link)

    for name, handler, text in (
        ("push", commands.push, "send the project (or one file) to the linked assistant"),
        ("pull", commands.pull, "merge the linked assistant (or one file) into the project"),
    ):
        p = sub.add_parser(name, help=text, epilog=EPILOG)
        p.add_argument("part", nargs="?", choices=("config", "endpoints"), help="only this file")
        _project_arguments(p)
        p.set_defaults(handler=handler)

    p = sub.add_parser("train", help="download an assistant and train it locally")
    p.add_argument("assistant_name")
    p.add_argument("--project", help="where to download it (default: <assistant_name>)")
    p.add_argument("--out", default="models", help="model directory (default: models)")
    p.add_argument("--rasa", action="store_true", help="train with `rasa train`, not the engine")
    p.set_defaults(handler=commands.train)

    p = sub.add_parser("versions", help="list an assistant's trained model versions")
    p.add_argument("assistant_name")
    p.add_argument("--json", action="store_true", help="print them as JSON")
    p.set_defaults(handler=commands.versions)

    model = sub.add_parser("model", help="model files").add_subparsers(
        dest="model_command", required=True, parser_class=_Parser
    )
    p = model.add_parser("download", help="download a trained model (or its input data)")
    p.add_argument("assistant_name")
    p.add_argument("version")
    p.add_argument("-o", "--output", help="file (default: <version>.tar.gz)")
    p.add_argument("--input", action="store_true", help="the training input (YAML) instead")
    p.set_defaults(handler=commands.model_download)

    conversations = sub.add_parser("conversations", help="conversations").add_subparsers(
        dest="conversations_command", required=True, parser_class=_Parser
    )
    p = conversations.add_parser("export", help="export conversations as JSON lines")
    p.add_argument("assistant_name")
    p.add_argument("--from", dest="from_time", default="1970-01-01T00:00:00Z", help="ISO time")
    p.add_argument("--to", dest="to_time", default=None, help="ISO time (default: now)")
    p.add_argument("--tag", action="append", help="only conversations with this tag id")
    p.add_argument("-o", "--output", help="file (default: standard output)")
    p.set_defaults(handler=commands.conversations_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "to_time", "") is None:
            args.to_time = _now()
        args.handler(args)
    except CliError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return int(exc.code)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return int(ExitCode.USAGE)
    return int(ExitCode.OK)
