"""Model service: train-to-first-reply through the whole path, and jobs per minute."""

import time

from bench import Figure


def _consumers(kind: str, count: int, *args: str):
    from tests.support.processes import manage

    return [
        manage(kind, "--worker-id", f"bench-{kind}-{i}", "--interval", "0.1", *args,
               DJANGO_SETTINGS_MODULE="studio.settings", DEBUG="true",
               STUDIO_TRAINING_CACHE="false")
        for i in range(count)
    ]  # fmt: skip


def train_to_first_reply(assistant, message: str) -> float:
    """From the training request to the bot's first answer through the web relay's client."""
    from apps.training import bot, services
    from apps.training.models import Deployment
    from tests.support.processes import stop, wait_for

    processes = _consumers("training_consumer", 1) + _consumers("running_consumer", 1)
    try:
        time.sleep(2)  # let the consumers start, as they would be in a running Studio
        started = time.perf_counter()
        job = services.request_training(assistant, None)

        def live():
            job.refresh_from_db()
            if job.status == "failed":
                raise RuntimeError(f"training failed: {job.error}")
            failed = Deployment.objects.filter(assistant=assistant, status="failed").first()
            if failed:
                raise RuntimeError(f"the bot failed: {failed.error[-2000:]}")
            return Deployment.objects.filter(assistant=assistant, status="live").first()

        deployment = wait_for(live, 300, interval=0.05, what="the bot")
        replies = bot.send_message(deployment, "bench", message)
        elapsed = time.perf_counter() - started
        assert replies, "the bot did not answer"
        job.refresh_from_db()
        deployment.refresh_from_db()
        phases = {
            "claim": job.started_at - job.created_at,
            "train+store": job.finished_at - job.started_at,
            "bot claim": deployment.started_at - job.finished_at,
            "bot start": deployment.live_at - deployment.started_at,
        }
        print("   ", ", ".join(f"{k} {v.total_seconds():.2f} s" for k, v in phases.items()))
        return elapsed
    finally:
        for process in processes:
            stop(process)
        # Retire the bot, or the next measurement's running consumer would bring it back.
        Deployment.objects.update(status=Deployment.Status.STOPPED)


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


def run():
    from apps.projects import content, services
    from apps.projects.content.archives import read_project_dir
    from demo import HARBOR_BANK as DEMO_DIR
    from demo.reference_assistant import generate_reference_project

    demo = services.create_assistant(name="bench-demo", created_by=None)
    content.import_files(demo, read_project_dir(DEMO_DIR))
    yield Figure("Train-to-first-reply, demo assistant", train_to_first_reply(demo, "hello"), "s")
    reference = services.create_assistant(name="bench-ref", created_by=None)
    content.import_files(reference, generate_reference_project())
    yield Figure(
        "Train-to-first-reply, reference assistant",
        train_to_first_reply(reference, "hello"),
        "s",
        "< 3 s",
    )
    cold, cached, ratio = cached_training_ratio()
    yield Figure("Reference assistant: cold full training", cold, "s")
    yield Figure("Reference assistant: training after a response edit (cache)", cached, "s")
    yield Figure("  ratio to a cold full training", ratio, "x")
    for consumers in (1, 2):
        yield Figure(
            f"Demo trainings per minute with {consumers} consumer(s) (6 jobs)",
            jobs_per_minute(demo, consumers),
            "jobs/min",
        )
