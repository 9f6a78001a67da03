"""Asking the user, only when someone is there to answer (stdin is a terminal)."""

from __future__ import annotations

import getpass
import sys

from studio_cli.errors import CliError


def interactive() -> bool:
    return sys.stdin.isatty()


def ask(question: str, default: str | None = None, flag: str = "") -> str:
    if not interactive():
        if default is not None:
            return default
        raise CliError(f"{question}: give it with {flag} (no terminal to ask on).")
    suffix = f" [{default}]" if default else ""
    answer = input(f"{question}{suffix}: ").strip()
    return answer or default or ""


def ask_secret(question: str, flag: str) -> str:
    if not interactive():
        raise CliError(f"{question}: give it with {flag} or STUDIO_PASSWORD.")
    return getpass.getpass(f"{question}: ")


def confirm(question: str, default: bool = False) -> bool:
    if not interactive():
        return default
    answer = input(f"{question} [{'Y/n' if default else 'y/N'}]: ").strip().lower()
    return default if not answer else answer in ("y", "yes")
