"""Import and export of the reference assistant (40 flows, 60 intents, 3000 examples)."""

import statistics
import time

from bench import Figure


def run(repeat: int = 5):
    from apps.projects import content, services
    from apps.projects.models import Assistant
    from demo.reference_assistant import generate_reference_project

    files = generate_reference_project(flows=40, intents=60, examples=3000)
    assistant = Assistant.objects.filter(
        name="bench-reference"
    ).first() or services.create_assistant(name="bench-reference", created_by=None)
    imports, exports = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        content.import_files(assistant, files)
        imports.append(time.perf_counter() - started)
        started = time.perf_counter()
        content.export_files(assistant)
        exports.append(time.perf_counter() - started)
    yield Figure(
        "Import of the reference assistant (median)", statistics.median(imports), "s", "< 2 s"
    )
    yield Figure(
        "Export of the reference assistant (median)", statistics.median(exports), "s", "< 2 s"
    )
