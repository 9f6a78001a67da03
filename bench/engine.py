"""Benchmark training and serving: ``python -m bench.engine [--messages N]``.

Trains the demo assistant and the synthetic reference assistant (40 flows, 60 intents, 3000
examples), then serves the demo model and measures reply latency, first by calling the
dialogue directly, then through the HTTP server on loopback. The process is pinned to one CPU
(where the OS allows it) so the figures are per core. Loops are bounded; nothing leaves the
machine.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from demo import HARBOR_BANK

DEMO_PROJECT = HARBOR_BANK

#: A conversation through several demo flows; repeated with a new sender each time.
SCRIPT = (
    "hi",
    "what's my balance",
    "checking",
    "I lost my card",
    "debit",
    "it was stolen",
    "yes",
    "/SetSlots(wants_replacement=false)",
    "show my recent transactions",
    "thanks, bye",
)


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _report(label: str, latencies: list[float], wall: float) -> dict[str, float]:
    p50 = _percentile(latencies, 0.50) * 1000
    p95 = _percentile(latencies, 0.95) * 1000
    rate = len(latencies) / wall if wall else 0.0
    _say(
        f"{label}: {len(latencies)} messages, p50 {p50:.2f} ms, p95 {p95:.2f} ms, "
        f"mean {statistics.fmean(latencies) * 1000:.2f} ms, {rate:.0f} messages/s"
    )
    return {"p50_ms": p50, "p95_ms": p95, "messages_per_second": rate}


def _pin_to_one_cpu() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def _train(label: str, project_dir: Path, out: Path) -> Path:
    from engine.train import train_project

    result = train_project(project_dir, out, fixed_model_name=label)
    parts = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in result.timings.items())
    stats = result.metadata["stats"]
    _say(
        f"train {label}: {result.seconds:.2f} s ({parts}); {stats['flows']} flows, "
        f"{stats['intents']} intents, {stats['examples']} examples"
    )
    return result.path


def _drive(send: Callable[[str, str], object], messages: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    began = time.perf_counter()
    conversation = 0
    while len(latencies) < messages:
        sender = f"bench-{conversation}"
        conversation += 1
        for text in SCRIPT:
            if len(latencies) >= messages:
                break
            start = time.perf_counter()
            send(sender, text)
            latencies.append(time.perf_counter() - start)
    return latencies, time.perf_counter() - began


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


#: The mean time the dialogue may take for one reply, in process (NLU and policies included).
REPLY_TARGET_MS = 5.0


def bench_processor(model_path: Path, messages: int) -> dict[str, float]:
    from engine.server.serve import build_bot

    bot = build_bot(model_path, seed=0)
    _drive(lambda sender, text: bot.handle_message(sender, text), len(SCRIPT))  # warm up
    latencies, wall = _drive(lambda sender, text: bot.handle_message(sender, text), messages)
    figures = _report("reply (dialogue, in process)", latencies, wall)
    mean_ms = statistics.fmean(latencies) * 1000
    verdict = "met" if mean_ms < REPLY_TARGET_MS else "MISSED"
    _say(f"reply target: mean {mean_ms:.2f} ms, target < {REPLY_TARGET_MS:.0f} ms: {verdict}")
    return figures


def bench_http(model_path: Path, messages: int) -> dict[str, float]:
    import httpx
    import uvicorn

    from engine.server import create_app
    from engine.server.serve import build_bot

    port = _free_port()
    app = create_app(build_bot(model_path, seed=0))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the benchmark server did not start")
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
    try:
        with httpx.Client(timeout=30) as http:

            def send(sender: str, text: str) -> object:
                response = http.post(url, json={"sender": sender, "message": text})
                response.raise_for_status()
                return response

            _drive(send, len(SCRIPT))
            latencies, wall = _drive(send, messages)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return _report("reply (HTTP REST webhook, loopback)", latencies, wall)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__)
    parser.add_argument("--messages", type=int, default=500, help="messages per serving run")
    parser.add_argument("--no-pin", action="store_true", help="do not pin to one CPU")
    args = parser.parse_args(argv)

    from demo.reference_assistant import generate_reference_project

    _say("cpu: " + ("not pinned" if args.no_pin else _pin_to_one_cpu()))
    with tempfile.TemporaryDirectory(prefix="engine-bench-") as tmp:
        root = Path(tmp)
        reference = root / "reference"
        for rel, text in generate_reference_project().items():
            target = reference / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        demo_model = _train("demo", DEMO_PROJECT, root / "models")
        _train("reference", reference, root / "models")
        bench_processor(demo_model, args.messages)
        bench_http(demo_model, args.messages)
    return 0


if __name__ == "__main__":
    sys.exit(main())
