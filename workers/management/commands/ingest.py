"""manage.py ingest [--source kafka|file]: store the events production assistants publish.

With KAFKA_BOOTSTRAP_SERVERS set the source defaults to Kafka (KAFKA_TOPIC, consumer group
KAFKA_GROUP_ID); without it, to the JSON-lines files under STUDIO_EVENT_SPOOL_DIR that local
bots write. See apps.ingestion.sources for the delivery guarantees, workers.ingest for the loop.
"""

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError

from apps.ingestion.sources import FileSpoolSource, KafkaSource
from workers.command import WorkerCommand
from workers.ingest import IngestWorker


class Command(WorkerCommand):
    help = "Store Rasa tracker events from Kafka or the local event spool."
    worker_class = IngestWorker

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--source",
            choices=["kafka", "file"],
            help="kafka (the default when KAFKA_BOOTSTRAP_SERVERS is set) or file",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            help="messages (or lines) stored per transaction (default 5000 from Kafka, "
            "2000 lines from files)",
        )
        parser.add_argument(
            "--spool-dir", help="the directory of event files (default STUDIO_EVENT_SPOOL_DIR)"
        )
        parser.add_argument(
            "--max-errors",
            type=int,
            default=10,
            help="exit with an error after this many failed batches in a row (default 10)",
        )

    def worker_kwargs(self, options: dict[str, Any]) -> dict[str, Any]:
        batch_size = options["batch_size"]
        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        kind = options["source"] or ("kafka" if settings.KAFKA_BOOTSTRAP_SERVERS else "file")
        if kind == "kafka":
            if not settings.KAFKA_BOOTSTRAP_SERVERS:
                raise CommandError("--source kafka needs KAFKA_BOOTSTRAP_SERVERS")
            source: KafkaSource | FileSpoolSource = KafkaSource(batch_size=batch_size or 5000)
        else:
            source = FileSpoolSource(options["spool_dir"], max_lines=batch_size or 2000)
        return {"source": source, "max_errors": max(options["max_errors"], 1)}
