"""Benchmark the LLM command generator's own cost: ``python -m bench.llm [--messages N]``.

Serves the demo assistant's flows with a ``CompactLLMCommandGenerator`` whose model group
points at a loopback server that answers a fixed completion at once, and measures each reply:
the turn's time minus the LLM call's time is what the generator adds (the prompt with its flow
retrieval, the grammar, parsing and applying the commands). The same messages through the
offline generator give the baseline. Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from demo import HARBOR_BANK

MESSAGES = ("what's my balance", "checking", "I lost my card", "debit", "thanks, bye")


class _Instant(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"choices": [{"message": {"content": "offtopic reply"}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _processors(base: str) -> tuple[Any, Any]:
    from engine.dialogue import DialogueModel, FlowClassifier, Processor
    from engine.formats import load_project_dir
    from engine.llm import LlmComponent, build_llm_setup
    from engine.nlu import NluModel
    from engine.train import nlu_training_data

    project = load_project_dir(HARBOR_BANK)
    model = DialogueModel.build(project)
    nlu = NluModel.train(nlu_training_data(project))
    classifier = FlowClassifier.train(project.flows, project.nlu)
    component = LlmComponent(
        pipeline=[{"name": "CompactLLMCommandGenerator", "llm": {"model_group": "bench"}}]
    )
    endpoints = {
        "model_groups": [
            {"id": "bench", "models": [{"provider": "self-hosted", "model": "m", "api_base": base}]}
        ]
    }
    setup = build_llm_setup(component, model, endpoints, environ={})
    return Processor(model, nlu, classifier, seed=1), Processor(
        model, nlu, classifier, seed=1, llm=setup
    )


def _run(processor: Any, rounds: int) -> tuple[list[float], list[float]]:
    from engine.dialogue import UserMessage

    turns, llm = [], []
    for index in range(rounds):
        tracker = processor.new_tracker(f"bench-{index}")
        for text in MESSAGES:
            began = time.perf_counter()
            processor.handle_message(tracker, UserMessage(text, tracker.sender_id))
            turns.append(time.perf_counter() - began)
            user = [e for e in tracker.events if e["event"] == "user"][-1]
            prompts = user["parse_data"].get("prompts") or []
            llm.append(sum(p.get("latency_ms", 0.0) for p in prompts) / 1000)
    return turns, llm


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p50 = ordered[len(ordered) // 2] * 1000
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000
    return f"p50 {p50:.2f} ms, p95 {p95:.2f} ms, mean {statistics.fmean(values) * 1000:.2f} ms"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.llm")
    parser.add_argument("--messages", type=int, default=200, help="messages per generator")
    args = parser.parse_args(argv)
    rounds = max(1, args.messages // len(MESSAGES))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Instant)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        offline, with_llm = _processors(f"http://127.0.0.1:{server.server_address[1]}/v1")
        _run(with_llm, 1)  # warm up (the first prompt compiles the template)
        offline_turns, _ = _run(offline, rounds)
        llm_turns, llm_calls = _run(with_llm, rounds)
    finally:
        server.shutdown()
        server.server_close()
    own = [turn - call for turn, call in zip(llm_turns, llm_calls, strict=True)]
    print(f"offline generator, per reply: {_ms(offline_turns)}")
    print(f"LLM generator, per reply (loopback LLM answering at once): {_ms(llm_turns)}")
    print(f"  of which the LLM call (HTTP on loopback): {_ms(llm_calls)}")
    print(f"  the reply without the LLM call: {_ms(own)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
