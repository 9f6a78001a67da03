"""``python -m engine``: train a Rasa project, serve a trained model, or run its e2e tests.

python -m engine train PROJECT_DIR --out DIR [--fixed-model-name NAME]
    [--config F] [--domain PATH] [--data PATH ...] [--endpoints F]
python -m engine serve MODEL.tar.gz --port 5005 [--host 127.0.0.1] [--endpoints endpoints.yml]
python -m engine test PROJECT_DIR|MODEL.tar.gz|URL [--e2e DIR_OR_FILE] [--seed N] [--junit FILE]
    [--endpoints endpoints.yml]
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.archive import LoadedModel
    from engine.e2e import CaseResult
    from engine.formats import Problem
    from engine.llm import LlmSetup

#: The variable a bot's API token may be given in (kept off the command line).
AUTH_TOKEN_VARIABLE = "ENGINE_AUTH_TOKEN"


def _train(args: argparse.Namespace) -> int:
    from engine.train import Locations, TrainingFailed, format_problem, print_line, train_project

    locations = Locations(
        config=args.config,
        domain=args.domain,
        data=tuple(args.data or ()),
        endpoints=args.endpoints,
    )
    try:
        train_project(
            args.project,
            args.out,
            fixed_model_name=args.fixed_model_name,
            progress=print_line,
            locations=locations,
        )
    except TrainingFailed as exc:
        print_line(f"The project has {len(exc.problems)} errors:")
        for problem in exc.problems:
            print_line(format_problem(problem))
        print("Training failed: fix the errors above and train again.", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"Training failed: {exc}", file=sys.stderr)
        return 2
    return 0


def _serve(args: argparse.Namespace) -> int:
    from engine.archive import ArchiveError
    from engine.brokers import BrokerConfigError
    from engine.netguard import BlockedNetworks
    from engine.server import serve

    # Taken out of the environment, so that endpoints.yml cannot expand it.
    token = os.environ.pop(AUTH_TOKEN_VARIABLE, "") or args.auth_token
    try:
        blocked = BlockedNetworks.parse(args.blocked_networks)
    except ValueError as exc:
        print(f"--blocked-networks: {exc}", file=sys.stderr)
        return 2
    try:
        serve(
            args.model,
            host=args.host,
            port=args.port,
            endpoints_path=args.endpoints,
            seed=args.seed,
            auth_token=token or None,
            auth_webhooks=args.auth_webhooks,
            blocked_networks=blocked,
            max_conversations=args.max_conversations,
            log_level=args.log_level,
        )
    except (ArchiveError, BrokerConfigError, OSError) as exc:
        print(f"Cannot serve {args.model}: {exc}", file=sys.stderr)
        return 1
    return 0


def _print_problems(heading: str, problems: list[Problem]) -> None:
    from engine.train import format_problem

    print(heading, file=sys.stderr)
    for problem in problems:
        print(format_problem(problem), file=sys.stderr)


def _llm_setup(endpoints_path: str | None, model: LoadedModel) -> LlmSetup | None:
    """The LLM generators and rephraser of `model` with endpoints.yml's model groups (None
    without an endpoints file: the offline generator runs). Raises ValueError."""
    if not endpoints_path:
        return None
    from engine.brokers import load_endpoints
    from engine.llm import build_llm_setup

    try:
        endpoints = load_endpoints(endpoints_path)
    except OSError as exc:
        raise ValueError(f"cannot read the endpoints file: {exc}") from exc
    return build_llm_setup(model.llm, model.dialogue_model, endpoints)


def _test(args: argparse.Namespace) -> int:
    """Run e2e test cases against a project (trained here), a model archive or a served bot.

    In process, custom actions do nothing (as when serving without an action_endpoint), or
    return their ``stub_custom_actions``. Prints a line per case and ``N passed, M failed``
    (``, K skipped``); ``--junit FILE`` also writes JUnit XML.
    Exit status: 0 when no case failed, 1 when one failed, 2 when the tests could not run.
    """
    import tempfile
    from pathlib import Path

    from engine.archive import ArchiveError, load_model
    from engine.dialogue import NullActionClient, Processor
    from engine.e2e import run_test_cases, run_test_cases_http
    from engine.formats import FormatError, load_test_files
    from engine.train import TrainingFailed, train_project

    target = args.target
    is_url = target.startswith(("http://", "https://"))
    e2e = args.e2e
    if e2e is None and not is_url and Path(target).is_dir():
        folders = [Path(target) / name for name in ("tests/e2e", "tests", "e2e_tests")]
        e2e = str(next((f for f in folders if f.is_dir()), folders[0]))
    if e2e is None:
        print("Give the test cases with --e2e DIR_OR_FILE.", file=sys.stderr)
        return 2
    try:
        cases = load_test_files([e2e])
    except FormatError as exc:
        _print_problems(f"The test cases have {len(exc.problems)} errors:", exc.problems)
        return 2
    except (OSError, ValueError) as exc:
        print(f"Cannot read the test cases: {exc}", file=sys.stderr)
        return 2
    if not cases:
        print(f"No test cases in {e2e}.", file=sys.stderr)
        return 2

    if is_url:
        results = run_test_cases_http(cases, target, token=args.auth_token)
    else:
        try:
            if Path(target).is_dir():
                with tempfile.TemporaryDirectory(prefix="engine-test-") as out:
                    model = load_model(train_project(target, out, fixed_model_name="test").path)
            else:
                model = load_model(target)
            llm = _llm_setup(args.endpoints, model)
        except TrainingFailed as exc:
            _print_problems(f"Training failed with {len(exc.problems)} errors:", exc.problems)
            return 2
        except (ArchiveError, OSError, ValueError) as exc:
            print(f"Cannot load {target}: {exc}", file=sys.stderr)
            return 2

        def processor() -> Processor:
            return Processor(
                model.dialogue_model,
                model.nlu,
                model.flow_classifier,
                action_client=NullActionClient(),
                seed=args.seed,
                model_id=model.model_id,
                assistant_id=model.assistant_id,
                llm=llm,
            )

        results = run_test_cases(cases, processor)

    return _report(results, args.junit)


def _case_label(result: CaseResult) -> str:
    from pathlib import Path

    return f"{Path(result.file).name}::{result.name}" if result.file else result.name


def _report(results: list[CaseResult], junit: str | None) -> int:
    """Print one line per case and the summary; write the JUnit file. The exit status: 1 when a
    case failed, 2 when the JUnit file cannot be written, else 0."""
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for result in results:
        counts[result.status] += 1
        label = _case_label(result)
        if result.status == "passed":
            print(f"PASS {label}")
        elif result.status == "skipped":
            print(f"SKIP {label}: {'; '.join(result.skipped)}")
        else:
            failure = result.failure or {}
            where = []
            if failure.get("step") is not None:
                where.append(f"step {failure['step'] + 1}")
            if failure.get("line") is not None:
                where.append(f"line {failure['line']}")
            at = f" ({', '.join(where)})" if where else ""
            print(f"FAIL {label}{at}: {failure.get('message')}")
    summary = f"{counts['passed']} passed, {counts['failed']} failed"
    if counts["skipped"]:
        summary += f", {counts['skipped']} skipped"
    print(summary)
    if junit:
        from engine.e2e import junit_xml

        try:
            with open(junit, "wb") as out:
                out.write(junit_xml(results))
        except OSError as exc:
            print(f"Cannot write {junit}: {exc}", file=sys.stderr)
            return 2
    return 1 if counts["failed"] else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a project directory into a model archive")
    train.add_argument("project", help="the Rasa project directory")
    train.add_argument(
        "--out",
        "-o",
        default="models",
        help="directory for the archive, or the archive path ending in .tar.gz (default: models)",
    )
    train.add_argument(
        "--fixed-model-name", help="archive file name (default: <timestamp>-<random>.tar.gz)"
    )
    from engine.formats.locations import add_location_arguments

    add_location_arguments(train, "PROJECT_DIR")
    train.set_defaults(handler=_train)

    serve = commands.add_parser("serve", help="serve a model archive over Rasa's HTTP API")
    serve.add_argument("model", help="the model archive (.tar.gz)")
    serve.add_argument("--port", "-p", type=int, default=5005)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--endpoints", help="endpoints.yml (event_broker, action_endpoint)")
    serve.add_argument("--seed", type=int, help="seed for choosing among response variations")
    serve.add_argument(
        "--auth-token",
        help="require ?token=... on the API endpoints (not on webhooks); or set "
        f"{AUTH_TOKEN_VARIABLE}",
    )
    serve.add_argument(
        "--auth-webhooks", action="store_true", help="require the token on the webhooks too"
    )
    serve.add_argument(
        "--blocked-networks",
        help="comma-separated CIDRs that custom actions may not reach "
        "(default: link-local and cloud metadata addresses; '' for none)",
    )
    serve.add_argument("--max-conversations", type=int, default=50_000)
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    serve.set_defaults(handler=_serve)

    test = commands.add_parser(
        "test", help="run e2e test cases against a project, a model archive or a served bot"
    )
    test.add_argument(
        "target", help="a project directory, a model archive (.tar.gz), or a bot's URL"
    )
    test.add_argument(
        "--e2e",
        help="test case file or directory, or FILE::CASE for one case "
        "(default: PROJECT_DIR/tests/e2e, tests or e2e_tests)",
    )
    test.add_argument("--seed", type=int, help="seed for choosing among response variations")
    test.add_argument(
        "--endpoints",
        help="endpoints.yml whose model_groups (and nlg) the LLM command generators (and the "
        "rephraser) use; without it, the offline generator understands messages",
    )
    test.add_argument("--auth-token", help="the served bot's --auth-token")
    test.add_argument("--junit", metavar="FILE", help="also write the results as JUnit XML")
    test.set_defaults(handler=_test)

    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
