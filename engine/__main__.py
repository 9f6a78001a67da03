"""``python -m engine``: train a Rasa project, serve a trained model, or run its tests.

python -m engine train PROJECT_DIR --out DIR [--fixed-model-name NAME] [--cache DIR]
    [--cache-url-env NAME]
    [--config F] [--domain PATH] [--data PATH ...] [--endpoints F]
python -m engine serve MODEL.tar.gz --port 5005 [--host 127.0.0.1] [--endpoints endpoints.yml]
python -m engine test PROJECT_DIR|MODEL.tar.gz|URL [--e2e DIR_OR_FILE] [--stories DIR_OR_FILE]
    [--seed N] [--junit FILE] [--json FILE] [--endpoints endpoints.yml]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from engine.archive import LoadedModel
    from engine.dialogue import ActionClient
    from engine.e2e import CaseResult
    from engine.formats import E2ETestCase, Problem
    from engine.llm import LlmSetup
    from engine.test_stories import StoryResult, TestStory

T = TypeVar("T")

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
            cache=args.cache,
            cache_url=_cache_url(args),
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
    if args.cache:
        _prune_cache(args)
    return 0


def _cache_url(args: argparse.Namespace) -> str | None:
    """The remote cache's URL, from the variable --cache-url-env names (kept off the command
    line: it is a credential)."""
    if not args.cache_url_env:
        return None
    if not args.cache:
        raise SystemExit("--cache-url-env needs --cache DIR (the local copy)")
    url = os.environ.get(args.cache_url_env, "")
    if not url:
        raise SystemExit(f"--cache-url-env: ${args.cache_url_env} is not set")
    return url


def _prune_cache(args: argparse.Namespace) -> None:
    from engine.cache import prune
    from engine.train import print_line

    max_bytes = int(args.cache_max_mb * 1024 * 1024) if args.cache_max_mb else None
    max_age = args.cache_max_age_days * 86400 if args.cache_max_age_days else None
    removed = prune(args.cache, max_bytes=max_bytes, max_age_seconds=max_age)
    if removed:
        print_line(f"Evicted {len(removed)} entries from the training cache")


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


def _load_endpoints(endpoints_path: str | None) -> dict[str, Any]:
    """endpoints.yml as a mapping (empty without a path). Raises ValueError."""
    if not endpoints_path:
        return {}
    from engine.brokers import load_endpoints

    try:
        return load_endpoints(endpoints_path)
    except OSError as exc:
        raise ValueError(f"cannot read the endpoints file: {exc}") from exc


def _llm_setup(endpoints: dict[str, Any] | None, model: LoadedModel) -> LlmSetup | None:
    """The LLM generators and rephraser of `model` with endpoints.yml's model groups (None
    without an endpoints file: the offline generator runs). Raises ValueError."""
    if endpoints is None:
        return None
    from engine.llm import build_llm_setup

    return build_llm_setup(model.llm, model.dialogue_model, endpoints)


@dataclass
class _TestInputs:
    """What `python -m engine test` runs: e2e cases and test stories, and where they are."""

    cases: list[E2ETestCase] = field(default_factory=list)
    stories: list[TestStory] = field(default_factory=list)
    e2e: str | None = None
    stories_path: str | None = None


def _default_test_paths(target: str) -> tuple[str | None, str | None]:
    """A project's e2e cases (``tests/e2e``, ``tests`` or ``e2e_tests``) and test stories
    (``tests``), as far as they are there."""
    from pathlib import Path

    folders = [Path(target) / name for name in ("tests/e2e", "tests", "e2e_tests")]
    e2e = next((str(f) for f in folders if f.is_dir()), None)
    stories = Path(target) / "tests"
    return e2e, str(stories) if stories.is_dir() else None


def _load_test_inputs(args: argparse.Namespace, is_url: bool) -> _TestInputs | int:
    """The cases and stories to run, or the exit status (2) after saying what is wrong."""
    from pathlib import Path

    from engine.formats import load_test_files
    from engine.test_stories import load_test_stories

    inputs = _TestInputs(e2e=args.e2e, stories_path=args.stories)
    defaults = args.e2e is None and args.stories is None
    if defaults and not is_url and Path(args.target).is_dir():
        inputs.e2e, inputs.stories_path = _default_test_paths(args.target)
        if inputs.e2e is None and inputs.stories_path is None:
            print(f"No test cases or test stories in {args.target}/tests.", file=sys.stderr)
            return 2
    if inputs.e2e is None and inputs.stories_path is None:
        print(
            "Give the test cases with --e2e DIR_OR_FILE (test stories with --stories).",
            file=sys.stderr,
        )
        return 2
    if inputs.e2e is not None:
        cases = _read_tests(load_test_files, inputs.e2e, "test cases")
        if isinstance(cases, int):
            return cases
        inputs.cases = cases
    if inputs.stories_path is not None:
        stories = _read_tests(load_test_stories, inputs.stories_path, "test stories")
        if isinstance(stories, int):
            return stories
        inputs.stories = stories
    if not inputs.cases and not inputs.stories:
        where = " or ".join(p for p in (inputs.e2e, inputs.stories_path) if p)
        what = "test cases" if args.stories is None else "test stories"
        if defaults:
            what = "test cases or test stories"
        print(f"No {what} in {where}.", file=sys.stderr)
        return 2
    return inputs


def _read_tests(loader: Callable[[list[str]], list[T]], path: str, what: str) -> list[T] | int:
    """What `loader` reads at `path`, or 2 after printing why it cannot be read."""
    from engine.formats import FormatError

    try:
        return loader([path])
    except FormatError as exc:
        _print_problems(f"The {what} have {len(exc.problems)} errors:", exc.problems)
    except (OSError, ValueError) as exc:
        print(f"Cannot read the {what}: {exc}", file=sys.stderr)
    return 2


def _load_target(target: str) -> LoadedModel:
    """The model of a project directory (trained here, into a temporary folder) or an archive.
    Raises TrainingFailed, ArchiveError, OSError or ValueError."""
    import tempfile
    from pathlib import Path

    from engine.archive import load_model
    from engine.train import train_project

    if Path(target).is_dir():
        with tempfile.TemporaryDirectory(prefix="engine-test-") as out:
            return load_model(train_project(target, out, fixed_model_name="test").path)
    return load_model(target)


def _test(args: argparse.Namespace) -> int:
    """Run e2e test cases and test stories against a project (trained here), a model archive or
    a served bot.

    In process, custom actions call the ``action_endpoint`` of ``--endpoints``; without one
    they do nothing (as when serving without an action_endpoint), or return their
    ``stub_custom_actions``. Prints a line per case and story, and the summary (``N passed, M
    failed``, ``, K skipped``; with test stories, a line for each kind and the stories' action
    accuracy); ``--junit FILE`` also writes JUnit XML with a suite for each kind.
    Exit status: 0 when nothing failed, 1 when a case or story failed, 2 when the tests could
    not run.
    """
    from engine.archive import ArchiveError
    from engine.dialogue import NullActionClient, Processor
    from engine.e2e import run_test_cases, run_test_cases_http
    from engine.test_stories import run_test_stories, run_test_stories_http
    from engine.train import TrainingFailed

    target = args.target
    is_url = target.startswith(("http://", "https://"))
    inputs = _load_test_inputs(args, is_url)
    if isinstance(inputs, int):
        return inputs

    progress = _progress_printer(len(inputs.cases)) if args.json else None
    if is_url:
        results = run_test_cases_http(
            inputs.cases, target, token=args.auth_token, on_result=progress
        )
        stories = run_test_stories_http(inputs.stories, target, token=args.auth_token)
        return _report(results, args.junit, stories, json_file=args.json)
    try:
        model = _load_target(target)
        endpoints = _load_endpoints(args.endpoints) if args.endpoints else None
        llm = _llm_setup(endpoints, model)
        action_client = _action_client(endpoints)
    except TrainingFailed as exc:
        _print_problems(f"Training failed with {len(exc.problems)} errors:", exc.problems)
        return 2
    except (ArchiveError, OSError, ValueError) as exc:
        print(f"Cannot load {target}: {exc}", file=sys.stderr)
        return 2

    def processor() -> Processor:
        client: ActionClient = action_client or NullActionClient()
        return Processor(
            model.dialogue_model,
            model.nlu,
            model.flow_classifier,
            action_client=client,
            seed=args.seed,
            model_id=model.model_id,
            assistant_id=model.assistant_id,
            llm=llm,
            policies=model.policies,
        )

    try:
        results = run_test_cases(inputs.cases, processor, on_result=progress)
        stories = run_test_stories(inputs.stories, processor)
    finally:
        close = getattr(action_client, "close", None)
        if callable(close):
            close()
    return _report(results, args.junit, stories, json_file=args.json)


def _progress_printer(total: int) -> Callable[[CaseResult], None]:
    """With ``--json``: a ``progress: N/TOTAL STATUS LABEL`` line as each case finishes (what a
    caller following the output shows while the suite runs)."""
    done = 0

    def printer(result: CaseResult) -> None:
        nonlocal done
        done += 1
        print(f"progress: {done}/{total} {result.status} {_case_label(result)}", flush=True)

    return printer


def _write_json(path: str, results: list[CaseResult], stories: list[StoryResult]) -> bool:
    """The results as JSON: ``{"summary": {...}, "cases": [CaseResult.report(), ...],
    "stories": [...]}``. False (and a message) when the file cannot be written."""
    import json

    document = {
        "summary": {
            "total": len(results),
            "passed": sum(r.status == "passed" for r in results),
            "failed": sum(r.status == "failed" for r in results),
            "skipped": sum(r.status == "skipped" for r in results),
        },
        "cases": [result.report() for result in results],
        "stories": [story.as_dict() for story in stories],
    }
    try:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=2, default=str)
    except OSError as exc:
        print(f"Cannot write {path}: {exc}", file=sys.stderr)
        return False
    return True


def _action_client(endpoints: dict[str, Any] | None) -> ActionClient | None:
    """The action server of the endpoints file's ``action_endpoint``, if it names one."""
    if not endpoints:
        return None
    from engine.actions import action_client_from_endpoints

    return action_client_from_endpoints(endpoints.get("action_endpoint"))


def _case_label(result: CaseResult) -> str:
    from pathlib import Path

    return f"{Path(result.file).name}::{result.name}" if result.file else result.name


def _print_result(result: CaseResult) -> None:
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


def _counts(results: list[CaseResult]) -> str:
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for result in results:
        counts[result.status] += 1
    summary = f"{counts['passed']} passed, {counts['failed']} failed"
    if counts["skipped"]:
        summary += f", {counts['skipped']} skipped"
    return summary


def _report(
    results: list[CaseResult],
    junit: str | None,
    stories: list[StoryResult] | None = None,
    *,
    json_file: str | None = None,
) -> int:
    """Print one line per case and story, and the summary; write the JUnit and JSON files.
    The exit status: 1 when a case or story failed, 2 when a report file cannot be written,
    else 0."""
    from engine.test_stories import story_summary

    stories = stories or []
    for result in [*results, *stories]:
        _print_result(result)
    everything: list[CaseResult] = [*results, *stories]
    if stories:
        if results:
            print(f"E2E test cases: {_counts(results)}")
        summary = story_summary(stories)
        print(
            f"Test stories: {_counts(list(stories))}; actions: {summary['correct_actions']}/"
            f"{summary['actions']} correct ({summary['action_accuracy']:.1%})"
        )
    print(_counts(everything))
    if json_file and not _write_json(json_file, results, list(stories)):
        return 2
    if junit:
        from engine.e2e import junit_report

        suites: list[tuple[str, list[CaseResult]]] = []
        if results or not stories:
            suites.append(("e2e", results))
        if stories:
            suites.append(("stories", list(stories)))
        try:
            with open(junit, "wb") as out:
                out.write(junit_report(suites))
        except OSError as exc:
            print(f"Cannot write {junit}: {exc}", file=sys.stderr)
            return 2
    return 1 if any(r.status == "failed" for r in everything) else 0


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
    train.add_argument(
        "--cache",
        metavar="DIR",
        help="reuse each trained component whose inputs are unchanged from this directory "
        "(and store the others there)",
    )
    train.add_argument(
        "--cache-url-env",
        metavar="NAME",
        help="the environment variable holding the URL of a remote cache behind --cache "
        "(GET and PUT of {url}/{component}/{key}, a tar of the entry: engine.remote_cache)",
    )
    train.add_argument(
        "--cache-max-mb",
        type=float,
        default=0,
        help="after training, evict the least recently used cache entries beyond this size",
    )
    train.add_argument(
        "--cache-max-age-days",
        type=float,
        default=0,
        help="after training, evict cache entries not used for this many days",
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
        "test",
        help="run e2e test cases and test stories against a project, a model archive or a "
        "served bot",
    )
    test.add_argument(
        "target", help="a project directory, a model archive (.tar.gz), or a bot's URL"
    )
    test.add_argument(
        "--e2e",
        help="test case file or directory, or FILE::CASE for one case "
        "(default: PROJECT_DIR/tests/e2e, tests or e2e_tests)",
    )
    test.add_argument(
        "--stories",
        help="test story file or directory (test_*.yml files holding stories:), or FILE::STORY "
        "for one story (default: PROJECT_DIR/tests; only the e2e cases when --e2e is given)",
    )
    test.add_argument("--seed", type=int, help="seed for choosing among response variations")
    test.add_argument(
        "--endpoints",
        help="endpoints.yml whose model_groups (and nlg) the LLM command generators (and the "
        "rephraser) use, and whose action_endpoint runs the custom actions; without it, the "
        "offline generator understands messages and custom actions do nothing",
    )
    test.add_argument("--auth-token", help="the served bot's --auth-token")
    test.add_argument("--junit", metavar="FILE", help="also write the results as JUnit XML")
    test.add_argument(
        "--json",
        metavar="FILE",
        help="also write the results as JSON (per case: status, failure with the step, "
        "expected and actual, transcript, events, seconds), and print a progress line as "
        "each case finishes",
    )
    test.set_defaults(handler=_test)

    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
