"""manage.py generate_conversations --events N: fill an assistant with realistic conversations
(for benchmarks and demos), stored through the real ingestion path."""

import json
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.ingestion import store
from apps.ingestion.store import RawMessage
from apps.projects.models import Assistant
from demo.conversations import random_conversations


class Command(BaseCommand):
    help = "Generate realistic conversations (Rasa Pro events) for an assistant."

    def add_arguments(self, parser):
        parser.add_argument("--events", type=int, required=True, help="about how many events")
        parser.add_argument("--assistant", default="bench", help="created if missing")
        parser.add_argument("--days", type=int, default=30, help="spread over the last N days")
        parser.add_argument("--batch-size", type=int, default=5000)
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, events, assistant, days, batch_size, seed, **options):
        if events < 1 or days < 1 or batch_size < 1:
            raise CommandError("--events, --days and --batch-size must be positive")
        target, _ = Assistant.objects.get_or_create(name=assistant)
        per_conversation = 24  # the sample conversations' average
        count = max(events // per_conversation, 1)
        start = timezone.now().timestamp() - days * 86400
        spacing = days * 86400 / count
        batch: list[RawMessage] = []
        produced = stored = 0
        began = time.perf_counter()
        conversations = random_conversations(
            count * 2, assistant_id=target.name, start=start, seed=seed
        )
        for index, conversation in enumerate(conversations):
            if produced >= events:
                break
            offset = start + index * spacing - conversation.events[0]["timestamp"]
            for body in conversation.events:
                body["timestamp"] = round(body["timestamp"] + offset, 6)
                batch.append(RawMessage(json.dumps(body)))
            produced += len(conversation.events)
            if len(batch) >= batch_size:
                stored += store.ingest(batch).stored
                batch = []
        if batch:
            stored += store.ingest(batch).stored
        elapsed = time.perf_counter() - began
        self.stdout.write(
            f"stored {stored} events for {target.name} in {elapsed:.1f}s "
            f"({stored / max(elapsed, 1e-9):.0f} events/s)"
        )
