"""The flow builder's pages: a 60-step flow's canvas and a list of 500 flows."""

import statistics
import time

from bench import Figure

STEPS = 60
FLOWS = 500


def _sixty_steps() -> list:
    """10 blocks of 6 steps: collect, message, set slots, and a logic step whose two branches
    each hold a message and merge into the next block."""
    steps: list = []
    blocks = STEPS // 6
    for block in range(blocks):
        after = f"block_{block + 1}" if block + 1 < blocks else "END"
        slot = f"s{block % 5}"
        steps += [
            {"id": f"block_{block}", "collect": slot},
            {"action": "utter_a"},
            {"set_slots": [{f"s{(block + 1) % 5}": "a"}]},
            {
                "noop": True,
                "next": [
                    {"if": f'slots.{slot} = "a"', "then": [{"action": "utter_a", "next": after}]},
                    {"else": [{"action": "utter_b", "next": after}]},
                ],
            },
        ]
    return steps


def _timed(client, url: str, repeat: int) -> float:
    client.get(url)  # warm caches (templates, connection)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times) * 1000


def run(repeat: int = 7):
    from django.test import Client
    from django.test.utils import setup_test_environment

    from apps.accounts.models import User
    from apps.flows import services
    from apps.flows.models import Flow, Response, Slot
    from apps.projects.models import Assistant

    setup_test_environment()
    user = User.objects.filter(username="bench-admin").first() or User.objects.create_superuser(
        "bench-admin", password="bench"
    )
    assistant = Assistant.objects.filter(name="bench-flows").first()
    if assistant is None:
        assistant = Assistant.objects.create(name="bench-flows")
        for i in range(5):
            Slot.objects.create(
                assistant=assistant,
                name=f"s{i}",
                type="categorical",
                definition={"type": "categorical", "values": ["a", "b"]},
            )
        for name in ("utter_a", "utter_b", *(f"utter_ask_s{i}" for i in range(5))):
            Response.objects.create(assistant=assistant, name=name, variations=[{"text": name}])
        services.create_flow(
            assistant, name="big", description="60 steps", steps=_sixty_steps(), user=user
        )
        Flow.objects.bulk_create(
            Flow(
                assistant=assistant,
                name=f"flow_{i:03}",
                description=f"Flow number {i}",
                definition={"description": f"Flow number {i}", "steps": [{"action": "utter_a"}]},
                position=i + 1,
            )
            for i in range(FLOWS - 1)
        )
    client = Client()
    client.force_login(user)
    yield Figure(
        "Flow canvas, 60 steps (median server time)",
        _timed(client, "/a/bench-flows/flows/big/", repeat),
        "ms",
        "< 200 ms",
    )
    yield Figure(
        "Flows list, 500 flows (median server time)",
        _timed(client, "/a/bench-flows/flows", repeat),
        "ms",
        "< 200 ms",
    )
