"""manage.py ingest_lag: how far the ingester is behind, per Kafka partition (or per file)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.ingestion.sources import FileSpoolSource, kafka_lag


class Command(BaseCommand):
    help = "Show the ingester's lag: per partition committed offset, high watermark and lag."

    def add_arguments(self, parser):
        parser.add_argument("--source", choices=["kafka", "file"])
        parser.add_argument("--timeout", type=float, default=10.0)

    def handle(self, *args, **options):
        kind = options["source"] or ("kafka" if settings.KAFKA_BOOTSTRAP_SERVERS else "file")
        if kind == "kafka":
            rows = kafka_lag(timeout=options["timeout"])
            self.stdout.write(
                f"topic {settings.KAFKA_TOPIC}, group {settings.KAFKA_GROUP_ID}\n"
                f"{'partition':>9} {'committed':>12} {'high':>12} {'lag':>12}"
            )
            for row in rows:
                committed = "-" if row.committed is None else str(row.committed)
                self.stdout.write(
                    f"{row.partition:>9} {committed:>12} {row.high:>12} {row.lag:>12}"
                )
            self.stdout.write(f"total lag: {sum(row.lag for row in rows)}")
        else:
            rows = FileSpoolSource().status()
            self.stdout.write(f"{'bytes behind':>12}  file")
            for row in rows:
                self.stdout.write(f"{row.behind:>12}  {row.path}")
            self.stdout.write(f"total bytes behind: {sum(row.behind for row in rows)}")
