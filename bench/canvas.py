"""The canvas workspace: a generated 60-step flow's canvas page, with its graph (issue 17)."""

import json
import statistics
import time

from bench import Figure

STEPS = 60
ASSISTANT = "bench-canvas"


def sixty_steps() -> list:
    """10 blocks of 6 steps: a collect, a message, a set slots, a logic step whose first branch
    loops back to the block's collect and whose else goes on, and a call of a helper flow."""
    steps: list = []
    blocks = STEPS // 6
    for block in range(blocks):
        after = f"block_{block + 1}" if block + 1 < blocks else "END"
        slot = f"s{block % 5}"
        steps += [
            {"id": f"block_{block}", "collect": slot},
            {"action": "utter_a"},
            {"set_slots": [{f"s{(block + 1) % 5}": "a"}]},
            {"call": "helper"},
            {
                "noop": True,
                "next": [
                    {
                        "if": f'slots.{slot} = "b"',
                        "then": [{"action": "utter_b", "next": f"block_{block}"}],
                    },
                    {"else": after},
                ],
            },
        ]
    return steps


def _median_ms(operation, repeat: int) -> float:
    operation()  # warm caches (templates, connection)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        operation()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def make_assistant(user):
    """The benchmark's assistant (made once): five slots, its responses, the 60-step flow `big`
    and the `helper` it calls."""
    from apps.flows import services
    from apps.flows.models import Response, Slot
    from apps.projects.models import Assistant

    assistant = Assistant.objects.filter(name=ASSISTANT).first()
    if assistant is not None:
        return assistant
    assistant = Assistant.objects.create(name=ASSISTANT)
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
        assistant, name="helper", description="A helper", steps=[{"action": "utter_a"}], user=user
    )
    services.create_flow(
        assistant, name="big", description="60 steps", steps=sixty_steps(), user=user
    )
    return assistant


def run(repeat: int = 9):
    from django.test import Client
    from django.test.utils import setup_test_environment

    from apps.accounts.models import User
    from apps.flows import canvas
    from apps.flows.models import Flow

    setup_test_environment()
    user = User.objects.filter(username="bench-admin").first() or User.objects.create_superuser(
        "bench-admin", password="bench"
    )
    assistant = make_assistant(user)
    steps = Flow.objects.get(assistant=assistant, name="big").definition["steps"]
    client = Client()
    client.force_login(user)
    url = f"/a/{ASSISTANT}/flows/big/"

    def page():
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        return response

    graph = canvas.graph(canvas.build(steps, "big", {}), "60 steps")
    assert sum(1 for node in graph["nodes"] if "path" in node) == STEPS
    yield Figure(
        "Canvas page, 60-step flow with its graph (median server time)",
        _median_ms(page, repeat),
        "ms",
        "< 200 ms",
    )
    yield Figure(
        "Graph of the 60-step flow: cards and edges (median)",
        _median_ms(lambda: canvas.graph(canvas.build(steps, "big", {}), "60 steps"), repeat),
        "ms",
    )
    yield Figure(
        "Graph JSON of the 60-step flow (size)",
        len(json.dumps(graph, ensure_ascii=False).encode()) / 1024,
        "KiB",
    )
