"""manage.py rollup_analytics --from DATE --to DATE [--assistant NAME]: recompute the daily
analytics rollups of a date range (days in TIME_ZONE, inclusive), one committed day at a time."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from apps.analytics import rollups
from apps.projects.models import Assistant


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from None


class Command(BaseCommand):
    help = "Recompute the analytics rollups of a range of days."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD")
        parser.add_argument("--assistant", help="only this assistant")

    def handle(self, *args, start, end, assistant, **options):
        first, last = _date(start), _date(end)
        if first > last:
            raise CommandError("--from is after --to")
        assistant_id = None
        if assistant:
            found = Assistant.objects.filter(name=assistant).first()
            if found is None:
                raise CommandError(f"no assistant called {assistant!r}")
            assistant_id = found.pk
        days = rollups.recompute_range(first, last, assistant_id)
        self.stdout.write(f"recomputed {days} assistant-day(s) from {first} to {last}")
