"""Model service: train-to-first-reply through the whole path, and jobs per minute."""

import statistics
import time
from datetime import timedelta
from pathlib import Path

from bench import Figure

#: How many response edits and NLU edits are timed (their median is the figure).
EDIT_REPEATS = 5
#: How often the bench looks for the new bot (the figure does not depend on it).
POLL_SECONDS = 0.05


def _consumers(kind: str, count: int, *args: str, cache: bool = False):
    """Consumers as deployed: their default --interval (a request wakes them on this machine)."""
    from tests.support.processes import manage

    return [
        manage(kind, "--worker-id", f"bench-{kind}-{i}", *args,
               DJANGO_SETTINGS_MODULE="studio.settings", DEBUG="true",
               STUDIO_TRAINING_CACHE="true" if cache else "false")
        for i in range(count)
    ]  # fmt: skip


def _edited_response(files: dict[str, str]) -> dict[str, str]:
    """The assistant's files with its first response text changed."""
    marker = "- text: "
    name = next(n for n, text in sorted(files.items()) if n.endswith(".yml") and marker in text)
    return {**files, name: files[name].replace(marker, marker + "Edited ", 1)}


def _edited_nlu(files: dict[str, str], example: str) -> dict[str, str]:
    """The assistant's files with one more example for its first intent."""
    marker = "examples: |\n"
    name = next(n for n, text in sorted(files.items()) if marker in text)
    text = files[name]
    at = text.index(marker) + len(marker)
    indent = text[at:].split("- ", 1)[0]
    return {**files, name: text[:at] + f"{indent}- {example}\n" + text[at:]}


class Studio:
    """A training consumer and two running consumers, as in a running Studio, and a way to
    time one edit from the training request to the bot's first answer."""

    def __init__(self, *, cache: bool) -> None:
        self.cache = cache

    def __enter__(self) -> "Studio":
        self.processes = _consumers("training_consumer", 1, cache=self.cache) + _consumers(
            "running_consumer", 2
        )
        # Wait until every consumer has run its loop once, as they would in a running Studio.
        from django.conf import settings

        from tests.support.processes import wait_for

        run = Path(settings.VAR_DIR) / "run"
        names = ["training.bench-training_consumer-0.alive"]
        names += [f"running.bench-running_consumer-{i}.alive" for i in (0, 1)]
        for name in names:
            (run / name).unlink(missing_ok=True)
        wait_for(lambda: all((run / name).exists() for name in names), 120, what="the consumers")
        return self

    def __exit__(self, *exc: object) -> None:
        from apps.training.models import Deployment
        from tests.support.processes import stop

        for process in self.processes:
            stop(process)
        # Retire the bots, or the next measurement's running consumers would bring them back.
        Deployment.objects.update(status=Deployment.Status.STOPPED)

    def first_reply(self, assistant, message: str, files: dict[str, str] | None = None) -> float:
        """Import `files` (an edit), then time the training request -> the bot's first answer
        through the web relay's client. Prints where the time went."""
        from django.utils import timezone

        from apps.projects import content
        from apps.training import bot, services
        from apps.training.models import Deployment
        from tests.support.processes import wait_for

        if files is not None:
            content.import_files(assistant, files)
        previous = Deployment.objects.filter(assistant=assistant, status="live").first()
        began = timezone.now()
        started = time.perf_counter()
        job = services.request_training(assistant, None)
        requested = time.perf_counter() - started

        def live():
            job.refresh_from_db()
            if job.status == "failed":
                raise RuntimeError(f"training failed: {job.error}")
            failed = Deployment.objects.filter(version=job.version, status="failed").first()
            if failed:
                raise RuntimeError(f"the bot failed: {failed.error[-2000:]}")
            return Deployment.objects.filter(version=job.version, status="live").first()

        # The figure is taken from the bot's live_at, not from when this loop sees it, so the
        # loop can poll gently: polling every few ms took CPU from the consumers it measures.
        deployment = wait_for(live, 300, interval=POLL_SECONDS, what="the bot")
        answering = time.perf_counter()
        replies = bot.send_message(deployment, "bench", message)
        first_reply = time.perf_counter() - answering
        assert replies, "the bot did not answer"
        job.refresh_from_db()
        deployment.refresh_from_db()
        elapsed = (deployment.live_at - began).total_seconds() + first_reply
        swapped = previous is not None and previous.bot_url == deployment.bot_url
        phases = {
            "request": timedelta(seconds=requested),
            "claim": job.started_at - job.created_at,
            "train+store": job.finished_at - job.started_at,
            "bot claim": deployment.started_at - job.finished_at,
            ("swap" if swapped else "bot start"): deployment.live_at - deployment.started_at,
            "first reply": timedelta(seconds=first_reply),
        }
        print("   ", ", ".join(f"{k} {v.total_seconds():.3f} s" for k, v in phases.items()))
        # Where the training's own time went, from its log: each cached component's outcome.
        steps = [
            line.strip()
            for line in job.log.splitlines()
            if line.startswith("component ") or line.startswith("Training finished")
        ]
        print("   ", "; ".join(steps))
        return elapsed


def train_to_first_reply(assistant, message: str) -> dict[str, float]:
    """A cold full training to a new bot (the baseline), then edits to the live bot: with the
    training cache and the swap, and without the cache (swap only)."""
    from apps.projects import content

    files = content.export_files(assistant)
    times = {}
    with Studio(cache=False) as studio:
        times["cold"] = studio.first_reply(assistant, message)
        times["response, no cache"] = studio.first_reply(
            assistant, message, _edited_response(files)
        )
    with Studio(cache=True) as studio:
        studio.first_reply(assistant, message, files)  # fills the cache; a new bot
        # Each edit a new one (a response text edited again, another example): the median of
        # EDIT_REPEATS, as one run varies with what else the machine does.
        responses, nlu_edits = [], []
        for _ in range(EDIT_REPEATS):
            files = _edited_response(files)
            responses.append(studio.first_reply(assistant, message, files))
        for n in range(EDIT_REPEATS):
            files = _edited_nlu(files, f"an example added {n}")
            nlu_edits.append(studio.first_reply(assistant, message, files))
        times["response"] = statistics.median(responses)
        times["nlu"] = statistics.median(nlu_edits)
    return times


def jobs_per_minute(assistant, consumers: int, jobs: int = 6) -> float:
    from apps.projects import content
    from apps.projects import services as projects
    from apps.training import services
    from tests.support.processes import stop

    # One job per copy of the assistant: an assistant keeps only its newest queued training.
    files = content.export_files(assistant)
    for n in range(jobs):
        name = f"{assistant.name}-q{consumers}-{n}"
        copy = projects.create_assistant(name=name, created_by=None)
        content.import_files(copy, files)
        services.request_training(copy, None)
    started = time.perf_counter()
    processes = _consumers("training_consumer", consumers, "--once")
    for process in processes:
        process.wait(600)
        stop(process)
    return jobs / ((time.perf_counter() - started) / 60)


def cached_training_ratio() -> tuple[float, float, float]:
    """The reference assistant: a cold full training, then (cache filled) a training after a
    response text edit; returns both times in seconds and their ratio (cached / cold)."""
    import tempfile
    from pathlib import Path

    from demo.reference_assistant import generate_reference_project
    from engine.train import train_project
    from workers.training import write_project

    files = generate_reference_project()
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as tmp:
        root = Path(tmp)
        project, cache = root / "project", root / "cache"
        write_project(files, project)
        began = time.perf_counter()
        train_project(project, root / "out", fixed_model_name="cold")
        cold = time.perf_counter() - began
        train_project(project, root / "out", fixed_model_name="fill", cache=cache)
        domain = project / "domain.yml"
        text = domain.read_text(encoding="utf-8")
        marker = "- text: "
        assert marker in text, "the reference domain has no response text to edit"
        domain.write_text(text.replace(marker, marker + "Edited ", 1), encoding="utf-8")
        lines: list[str] = []
        began = time.perf_counter()
        train_project(
            project, root / "out", fixed_model_name="edit", cache=cache, progress=lines.append
        )
        cached = time.perf_counter() - began
    print("   ", "; ".join(line for line in lines if line.startswith("component ")))
    return cold, cached, cached / cold


def nlu_component_cpu(repeats: int = 3) -> tuple[float, float]:
    """The reference assistant's NLU components as an NLU edit retrains them: the intent
    classifier (C tuned on the held-out split, then the final fit) and the CRF entity extractor
    (features and training); the best CPU seconds of `repeats` trainings of each."""
    import tempfile

    from demo.reference_assistant import generate_reference_project
    from engine.nlu.classifier import TextClassifier
    from engine.nlu.crf import CrfEntityExtractor
    from engine.nlu.patterns import PatternExtractor
    from engine.nlu.tokenizer import tokenize
    from engine.train import load_and_validate, nlu_training_data
    from workers.training import write_project

    with tempfile.TemporaryDirectory(prefix="bench-nlu-") as tmp:
        write_project(generate_reference_project(), Path(tmp))
        project, _warnings = load_and_validate(tmp)
    data = nlu_training_data(project)
    texts = [ex.text for ex in data.examples]
    labels = [ex.intent for ex in data.examples]
    patterns = PatternExtractor(data.regexes, data.lookups, sorted(data.entity_names))
    tokens = [tokenize(text) for text in texts]
    matches = [patterns.matches(t, toks) for t, toks in zip(texts, tokens, strict=True)]

    def cpu(train) -> float:
        times = []
        for _ in range(repeats):
            began = time.process_time()
            train()
            times.append(time.process_time() - began)
        return min(times)

    classifier = cpu(lambda: TextClassifier(c=None).fit(texts, labels))
    crf = cpu(lambda: CrfEntityExtractor().train(data.examples, matches, tokens))
    return classifier, crf


def _edit_figures(name: str, times: dict[str, float], targets: dict[str, str]):
    """The cold baseline of one assistant, then each edit against it."""
    cold = times["cold"]
    yield Figure(f"Train-to-first-reply, {name}: cold full training, new bot", cold, "s")
    for edit, label in [
        ("response", f"response edit (cache, swap, median of {EDIT_REPEATS})"),
        ("nlu", f"NLU edit (cache, swap, median of {EDIT_REPEATS})"),
        ("response, no cache", "response edit (no cache, swap)"),
    ]:
        yield Figure(
            f"Train-to-first-reply, {name}: {label}",
            times[edit],
            "s",
            targets.get(edit, ""),
            baseline=cold,
            baseline_label="cold full training",
        )


def run():
    from apps.projects import content, services
    from apps.projects.content.archives import read_project_dir
    from demo import HARBOR_BANK as DEMO_DIR
    from demo.reference_assistant import generate_reference_project

    demo = services.create_assistant(name="bench-demo", created_by=None)
    content.import_files(demo, read_project_dir(DEMO_DIR))
    reference = services.create_assistant(name="bench-ref", created_by=None)
    content.import_files(reference, generate_reference_project())
    for name, assistant, targets in [
        ("demo", demo, {"response": "< 0.5 s", "nlu": "< 0.5 s"}),
        ("reference", reference, {"response": "< 1 s", "nlu": "< 2 s"}),
    ]:
        yield from _edit_figures(name, train_to_first_reply(assistant, "hello"), targets)
    cold, cached, _ratio = cached_training_ratio()
    yield Figure("Reference assistant: cold full training", cold, "s")
    yield Figure(
        "Reference assistant: training after a response edit (cache)",
        cached,
        "s",
        baseline=cold,
        baseline_label="cold full training",
    )
    classifier, crf = nlu_component_cpu()
    yield Figure("Reference assistant: intent classifier training (CPU)", classifier, "s")
    yield Figure("Reference assistant: CRF entity extractor training (CPU)", crf, "s")
    for consumers in (1, 2):
        yield Figure(
            f"Demo trainings per minute with {consumers} consumer(s) (6 jobs)",
            jobs_per_minute(demo, consumers),
            "jobs/min",
        )
