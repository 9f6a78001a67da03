"""``python -m engine``: train a Rasa project or serve a trained model.

python -m engine train PROJECT_DIR --out DIR [--fixed-model-name NAME]
python -m engine serve MODEL.tar.gz --port 5005 [--host 127.0.0.1] [--endpoints endpoints.yml]
"""

from __future__ import annotations

import argparse
import sys


def _train(args: argparse.Namespace) -> int:
    from engine.train import TrainingFailed, format_problem, print_line, train_project

    try:
        train_project(
            args.project,
            args.out,
            fixed_model_name=args.fixed_model_name,
            progress=print_line,
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
    from engine.server import serve

    try:
        serve(
            args.model,
            host=args.host,
            port=args.port,
            endpoints_path=args.endpoints,
            seed=args.seed,
            auth_token=args.auth_token,
            max_conversations=args.max_conversations,
            log_level=args.log_level,
        )
    except (ArchiveError, BrokerConfigError, OSError) as exc:
        print(f"Cannot serve {args.model}: {exc}", file=sys.stderr)
        return 1
    return 0


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
    train.set_defaults(handler=_train)

    serve = commands.add_parser("serve", help="serve a model archive over Rasa's HTTP API")
    serve.add_argument("model", help="the model archive (.tar.gz)")
    serve.add_argument("--port", "-p", type=int, default=5005)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--endpoints", help="endpoints.yml (event_broker, action_endpoint)")
    serve.add_argument("--seed", type=int, help="seed for choosing among response variations")
    serve.add_argument(
        "--auth-token", help="require ?token=... on the API endpoints (not on webhooks)"
    )
    serve.add_argument("--max-conversations", type=int, default=50_000)
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    serve.set_defaults(handler=_serve)

    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
