"""Test runs: a 100-case e2e suite against the reference assistant, queued and run by a training
consumer (from the request to the stored results), and the engine's own time for the cases."""

import time

from bench import Figure

CASES = 100


def reference_suite(project: dict[str, str], count: int = CASES) -> str:
    """`count` assertion cases: an NLU example of a flow's trigger intent starts that flow."""
    import yaml

    from engine import formats

    flows = yaml.safe_load(project["data/flows.yml"])["flows"]
    triggers: dict[str, str] = {}
    for flow_id, flow in flows.items():
        for trigger in flow.get("nlu_trigger") or []:
            triggers.setdefault(trigger["intent"]["name"], flow_id)
    examples = []
    for item in yaml.safe_load(project["data/nlu.yml"])["nlu"]:
        if item.get("intent") in triggers:
            for line in item["examples"].splitlines():
                # Entity annotations ([4678](amount)) are not what a user types.
                plain = formats.parse_example(line.lstrip("- ").strip()).text
                examples.append((item["intent"], plain))
    cases = []
    for n in range(count):
        intent, text = examples[(n * 7) % len(examples)]
        cases.append(
            {
                "test_case": f"case_{n:03d}",
                "steps": [{"user": text, "assertions": [{"flow_started": triggers[intent]}]}],
            }
        )
    return formats.dump_yaml({"test_cases": cases})


def run():
    from apps.projects import content, services
    from apps.projects.models import AssistantFiles
    from apps.testing import services as testing
    from apps.testing.models import TestRun
    from apps.training import services as training
    from bench.training import _consumers
    from demo.reference_assistant import generate_reference_project
    from tests.support.processes import stop, wait_for

    project = generate_reference_project()
    assistant = services.create_assistant(name="bench-tests", created_by=None)
    content.import_files(assistant, project)
    files = AssistantFiles.objects.get(assistant=assistant)
    files.put_kept_file("tests/e2e/reference.yml", reference_suite(project).encode())
    job = training.request_training(assistant, None)
    (consumer,) = _consumers("training_consumer", 1)
    try:
        wait_for(lambda: job.__class__.objects.get(pk=job.pk).is_finished, 600, what="training")
        job.refresh_from_db()
        if job.status != "succeeded":
            raise RuntimeError(f"training failed: {job.error}")
        started = time.perf_counter()
        run = testing.request_run(assistant, job.version)
        wait_for(
            lambda: TestRun.objects.get(pk=run.pk).is_finished, 600, interval=0.05, what="the run"
        )
        elapsed = time.perf_counter() - started
    finally:
        stop(consumer)
    run.refresh_from_db()
    engine_seconds = sum(case.get("seconds") or 0 for case in run.results)
    claim = (run.started_at - run.created_at).total_seconds() if run.started_at else 0.0
    print(
        f"    {run.case_count} cases: {run.passed_count} passed, {run.failed_count} failed; "
        f"claim {claim:.2f} s"
    )
    yield Figure(
        f"{CASES}-case e2e run, reference assistant (queue to results)", elapsed, "s", "< 10 s"
    )
    yield Figure(f"{CASES}-case e2e run, the cases alone (engine)", engine_seconds, "s")
