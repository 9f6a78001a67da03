"""Classic policies: training time and test-story accuracy on the classic reference assistant.

``python -m bench.classic [--stories N] [--repeats N] [--seed N]``. For ``demo/seaside_inn``:

* the time the classic policies take to train (``PolicyEnsemble.train``; with the stories,
  its first run, which also parses the story files, and the best of the repeats) on the
  project as it is, and on a temporary copy with N generated stories (default 300)
  varied from the assistant's own paths: greetings, frequently asked questions and small talk,
  the booking form (its happy path, small talk in the middle, stopping and carrying on or
  not), late checkout both ways, thanks and goodbyes;
* the whole ``train_project`` time (NLU, flows, policies, archive) with and without them;
* test-story accuracy: the project's ``tests/`` stories run in process (stories passed / total
  and action accuracy), with the assistant's own rasa-sdk action server when ``.venv-actions``
  exists; without it the figures say so and name the stories that need custom actions.

The issue's target: the classic policies add at most 1 s to training with a few hundred
stories. Nothing leaves the machine (the action server listens on loopback).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from bench import Figure

REPO = Path(__file__).resolve().parents[1]
SEASIDE = REPO / "demo" / "seaside_inn"
#: The virtualenv with rasa-sdk that ``make install-actions`` builds.
RASA_SDK_PYTHON = Path(
    os.environ.get("RASA_SDK_PYTHON", str(REPO / ".venv-actions" / "bin" / "python"))
)
#: The most the classic policies may take to train with a few hundred stories.
POLICIES_TARGET_S = 1.0

Step = dict[str, Any]

# --------------------------------------------------------------------------------------------
# Generated stories, built from the assistant's own paths

PARTY_SIZES = ("1", "2", "3", "4", "5", "6", "8", "10")
TIMES = (("7pm", "19:00"), ("8pm", "20:00"), ("6:30pm", "18:30"), ("noon", "12:00"))
SEATINGS = ("indoor", "terrace")
FORM = "table_booking_form"
ROOMS_GRANTED = ("204", "305", "118", "411")
ROOMS_REFUSED = ("102", "210", "307")


def _greeting(rng: random.Random) -> list[Step]:
    return [{"intent": "greet"}, {"action": "utter_greet"}] if rng.random() < 0.6 else []


def _question(rng: random.Random) -> list[Step]:
    if rng.random() < 0.5:
        return [{"intent": "faq"}, {"action": "utter_faq"}]
    return [{"intent": "chitchat"}, {"action": "utter_chitchat"}]


def _requested(slot: str) -> Step:
    return {"slot_was_set": [{"requested_slot": slot}]}


def _form_start() -> list[Step]:
    return [
        {"intent": "book_table"},
        {"action": FORM},
        {"active_loop": FORM},
        _requested("party_size"),
    ]


def _form_interruption(rng: random.Random) -> list[Step]:
    """Small talk while the form asks: answered, then the form asks again."""
    return [{"intent": "chitchat"}, {"action": "utter_chitchat"}, {"action": FORM}]


def _form_fill(rng: random.Random) -> list[Step]:
    size = rng.choice(PARTY_SIZES)
    said, booked = rng.choice(TIMES)
    seating = rng.choice(SEATINGS)
    answers = [
        ("party_size", {"number": size}, int(size), "booking_time"),
        ("booking_time", {"time": said}, booked, "seating"),
        ("seating", {"seating": seating}, seating, None),
    ]
    interrupt_at = rng.randrange(len(answers) + 1)
    steps = _form_start()
    for index, (slot, entities, value, next_slot) in enumerate(answers):
        if index == interrupt_at:
            steps += _form_interruption(rng)
        raw = next(iter(entities.values()))
        steps += [
            {"intent": "inform", "entities": [entities]},
            {"slot_was_set": [{slot: raw if slot != "party_size" else value}]},
            {"action": FORM},
        ]
        if next_slot is not None:
            steps.append({"slot_was_set": [{slot: value}, {"requested_slot": next_slot}]})
        else:
            steps.append({"slot_was_set": [{slot: value}]})
    steps += [
        {"active_loop": None},
        {"slot_was_set": [{"requested_slot": None}]},
        {"action": "action_submit_booking"},
        {"slot_was_set": [{"booking_reference": f"SI-{1000 + rng.randrange(9000)}"}]},
    ]
    return steps


def _form_stop(rng: random.Random) -> list[Step]:
    steps = [*_form_start(), {"intent": "stop"}, {"action": "utter_ask_continue"}]
    if rng.random() < 0.5:
        return [*steps, {"intent": "affirm"}, {"action": FORM}, {"active_loop": FORM}]
    return [
        *steps,
        {"intent": "deny"},
        {"action": "action_deactivate_loop"},
        {"active_loop": None},
        {"slot_was_set": [{"requested_slot": None}]},
        {"action": "utter_booking_stopped"},
    ]


def _late_checkout(rng: random.Random) -> list[Step]:
    granted = rng.random() < 0.5
    room = rng.choice(ROOMS_GRANTED if granted else ROOMS_REFUSED)
    answer = "utter_late_checkout_granted" if granted else "utter_late_checkout_unavailable"
    return [
        {"intent": "ask_late_checkout", "entities": [{"room_number": room}]},
        {"slot_was_set": [{"room_number": room}]},
        {"action": "action_check_late_checkout"},
        {"slot_was_set": [{"late_checkout": granted}]},
        {"action": answer},
    ]


def _closing(rng: random.Random) -> list[Step]:
    steps: list[Step] = []
    if rng.random() < 0.5:
        steps += [{"intent": "thank_you"}, {"action": "utter_you_are_welcome"}]
    if rng.random() < 0.6:
        steps += [{"intent": "goodbye"}, {"action": "utter_goodbye"}]
    return steps


PATHS: tuple[Callable[[random.Random], list[Step]], ...] = (
    _question,
    _form_fill,
    _form_fill,
    _form_stop,
    _late_checkout,
)


def generate_stories(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """`count` Rasa 3 stories of the Seaside Inn's paths, each a greeting or not, one to three
    paths (questions, bookings, late checkout) and a closing."""
    rng = random.Random(seed)
    stories = []
    for number in range(count):
        steps = _greeting(rng)
        for _ in range(rng.randint(1, 3)):
            steps += rng.choice(PATHS)(rng)
        steps += _closing(rng)
        stories.append({"story": f"generated story {number + 1}", "steps": steps})
    return stories


def project_with_stories(directory: Path, count: int, seed: int = 0) -> Path:
    """A copy of the Seaside Inn in `directory` with `count` generated stories in
    ``data/generated_stories.yml``."""
    copy = directory / "seaside_inn"
    shutil.copytree(SEASIDE, copy, ignore=shutil.ignore_patterns("__pycache__", "models"))
    document = {"version": "3.1", "stories": generate_stories(count, seed)}
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    (copy / "data" / "generated_stories.yml").write_text(text, encoding="utf-8")
    return copy


# --------------------------------------------------------------------------------------------
# Training time


def _timed(repeats: int, run: Callable[[], object]) -> tuple[float, float]:
    """The first run's time and the best of `repeats` runs (the first included)."""
    times = []
    for _ in range(max(1, repeats)):
        begin = time.perf_counter()
        run()
        times.append(time.perf_counter() - begin)
    return times[0], min(times)


def _policies_time(path: Path, repeats: int) -> tuple[float, float]:
    """The first and the best time of ``PolicyEnsemble.train`` on the project at `path` (the
    first one also parses the story files, which later trainings find cached)."""
    from engine.formats import load_project_dir
    from engine.policies import PolicyEnsemble

    project = load_project_dir(path)
    return _timed(repeats, lambda: PolicyEnsemble.train(project))


def _training_time(path: Path, out: Path) -> float:
    from engine.train import train_project

    return _timed(1, lambda: train_project(path, out, fixed_model_name="bench"))[0]


def training_figures(work: Path, count: int, repeats: int, seed: int) -> list[Figure]:
    """Policy and whole training times with and without `count` generated stories."""
    generated = project_with_stories(work, count, seed)
    _, plain = _policies_time(SEASIDE, repeats)
    first, best = _policies_time(generated, repeats)
    whole_plain = _training_time(SEASIDE, work / "model-plain")
    whole_more = _training_time(generated, work / "model-more")
    target = f"<= {POLICIES_TARGET_S:.0f} s: {'met' if first <= POLICIES_TARGET_S else 'MISSED'}"
    return [
        Figure(f"classic policies training, the project as it is, best of {repeats}", plain, "s"),
        Figure(f"classic policies training, +{count} stories, first run", first, "s", target),
        Figure(f"classic policies training, +{count} stories, best of {repeats}", best, "s"),
        Figure(f"policies' extra time for the {count} stories (best)", best - plain, "s"),
        Figure("whole training, the project as it is", whole_plain, "s"),
        Figure(f"whole training, +{count} generated stories", whole_more, "s"),
        Figure(
            f"whole training's extra time for the {count} stories", whole_more - whole_plain, "s"
        ),
    ]


# --------------------------------------------------------------------------------------------
# Test-story accuracy


@contextmanager
def action_server() -> Iterator[str | None]:
    """The Seaside Inn's own rasa-sdk action server on a free loopback port (its webhook URL),
    or None when rasa-sdk is not installed."""
    if not RASA_SDK_PYTHON.exists():
        yield None
        return
    from tests.support.processes import free_port, stop, wait_for_http

    port = free_port()
    env = {**os.environ, "SANIC_HOST": "127.0.0.1", "PYTHONPATH": str(SEASIDE)}
    process = subprocess.Popen(
        [str(RASA_SDK_PYTHON), "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)],
        cwd=SEASIDE,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", process)
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        stop(process, 15, output=False)


def needs_custom_actions(stories: list[Any]) -> list[str]:
    """The names of the stories that expect a custom action of the domain, or a form the
    domain validates with ``validate_<form>``."""
    from engine.formats import load_project_dir

    domain = load_project_dir(SEASIDE).domain
    custom = {action.name for action in domain.actions}
    custom |= {form for form in (domain.forms or {}) if f"validate_{form}" in custom}
    return [
        story.name
        for story in stories
        if any(action.name in custom for turn in story.turns for action in turn.actions)
    ]


def _processor_factory(model: Any, client: Any) -> Callable[[], Any]:
    from engine.dialogue import NullActionClient, Processor

    def factory() -> Any:
        return Processor(
            model.dialogue_model,
            model.nlu,
            model.flow_classifier,
            action_client=client or NullActionClient(),
            seed=1,
            model_id=model.model_id,
            assistant_id=model.assistant_id,
            policies=model.policies,
        )

    return factory


def story_figures(work: Path, use_actions: bool = True) -> list[Figure]:
    """The project's test stories run in process against a model trained from it."""
    from engine.actions import action_client_from_endpoints
    from engine.archive import load_model
    from engine.test_stories import load_test_stories, run_test_stories, story_summary
    from engine.train import train_project

    model = load_model(train_project(SEASIDE, work / "model-stories", fixed_model_name="s").path)
    stories = load_test_stories([SEASIDE / "tests"])
    with action_server() if use_actions else _no_server() as url:
        client = action_client_from_endpoints({"url": url}) if url else None
        try:
            results = run_test_stories(stories, _processor_factory(model, client))
        finally:
            if client is not None:
                client.close()
    summary = story_summary(results)
    server = "with its action server" if url else "WITHOUT an action server"
    if not url:
        affected = needs_custom_actions(stories)
        print(
            f"  the action server is absent ({RASA_SDK_PYTHON} not found or not used): "
            f"custom actions do nothing; {len(affected)} stories need them: "
            + ", ".join(repr(name) for name in affected)
        )
    for result in results:
        if result.status == "failed":
            print(f"  failed story {result.name!r}: {(result.failure or {}).get('message')}")
    return [
        Figure(
            f"test stories passed ({summary['passed']}/{summary['stories']}, {server})",
            100.0 * summary["story_accuracy"],
            "%",
        ),
        Figure(
            f"test-story action accuracy ({summary['correct_actions']}/{summary['actions']})",
            100.0 * summary["action_accuracy"],
            "%",
        ),
    ]


@contextmanager
def _no_server() -> Iterator[str | None]:
    yield None


def run(
    count: int = 300, repeats: int = 3, seed: int = 0, use_actions: bool = True
) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="bench-classic-") as directory:
        work = Path(directory)
        return [*training_figures(work, count, repeats, seed), *story_figures(work, use_actions)]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.classic")
    parser.add_argument("--stories", type=int, default=300, help="generated stories (300)")
    parser.add_argument("--repeats", type=int, default=3, help="policy trainings timed (3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-action-server", action="store_true", help="run the test stories without it"
    )
    args = parser.parse_args(argv)
    print(f"== {__doc__.strip().splitlines()[0] if __doc__ else 'classic policies'}")
    figures = run(args.stories, args.repeats, args.seed, not args.no_action_server)
    for figure in figures:
        print(figure.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
