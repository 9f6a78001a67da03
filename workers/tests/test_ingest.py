"""The ingester's loop and command (the sources themselves: apps/ingestion/tests)."""

import pytest
from django.core.management import CommandError, call_command

from workers.ingest import IngestWorker, TooManyErrors


class Broken:
    last_report = None
    closed = False

    def open(self):
        pass

    def close(self):
        self.closed = True

    def describe(self):
        return "broken"

    def step(self):
        raise RuntimeError("database down")


def test_the_worker_crashes_after_too_many_errors_in_a_row(db):
    source = Broken()
    worker = IngestWorker(source, max_errors=3, once=True)
    worker.sleep = lambda seconds: None
    with pytest.raises(TooManyErrors):
        worker.run()
    assert source.closed


def test_the_command_drains_the_spool_once(db, tmp_path, make_assistant):
    from apps.ingestion.models import Event, FileSpoolPosition
    from demo.conversations import transfer_conversation

    make_assistant("alpha")
    lines = transfer_conversation("w1").messages()
    (tmp_path / "alpha.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    call_command(
        "ingest",
        source="file",
        spool_dir=str(tmp_path),
        batch_size=10,
        once=True,
    )
    assert Event.objects.count() == len(lines)
    assert FileSpoolPosition.objects.get().offset == (tmp_path / "alpha.jsonl").stat().st_size


def test_the_command_needs_kafka_settings_for_kafka(db, settings):
    settings.KAFKA_BOOTSTRAP_SERVERS = ""
    with pytest.raises(CommandError, match="KAFKA_BOOTSTRAP_SERVERS"):
        call_command("ingest", source="kafka", once=True)
