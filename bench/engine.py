"""Training and serving: ``python -m bench.engine [--messages N] [--conversations N]``.

Trains the demo assistant and the synthetic reference assistant (40 flows, 60 intents, 3000
examples) and measures the reference assistant's reply path with the offline command generator
(no LLM, no sentence embeddings), over scripted conversations that go through its flows
(`reference_conversations`: a flow's trigger phrase, then an answer to each question it asks):

* in process: `Bot.handle_message`, one message after the other, p50 and p99;
* over HTTP: the bot served as ``python -m engine serve`` in a process of its own, pinned to one
  CPU (``sched_setaffinity`` in the child before it starts, so every thread it makes inherits
  it); the load generator (`LoadGenerator`, keep-alive HTTP/1.1 connections on asyncio) runs in
  this process, pinned to another CPU when there is one. First one conversation at a time (p50,
  p99), then ``--concurrency`` conversations at once for ``--conversations`` conversations:
  messages per second of wall time, and per CPU-second the bot process used (the same figure
  when the bot had its core to itself, and the one that does not depend on what else the
  machine runs);
* the served bot's resident memory after warm-up and after those conversations.

Loops are bounded; nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench import Figure, Skipped
from demo import HARBOR_BANK

#: Targets of the reference assistant's reply path (offline generator, no embeddings).
IN_PROCESS_P50_MS = 2.0
HTTP_P50_MS = 4.0
MESSAGES_PER_SECOND = 1000.0
#: The same with the sentence-embedding featuriser in its pipeline.
EMBEDDED_IN_PROCESS_P50_MS = 5.0
EMBEDDED_HTTP_P50_MS = 7.0

#: A conversation through several flows of the demo assistant.
DEMO_SCRIPT = (
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

#: How many conversations run at once in the throughput run.
CONCURRENCY = 16
#: Conversations in the throughput run (the memory figure is taken after them).
CONVERSATIONS = 10_000


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


# --------------------------------------------------------------------------------------------
# The conversations


def reference_conversations(project: dict[str, str]) -> list[list[str]]:
    """One conversation per triggered flow of the reference project (as
    `demo.reference_assistant.generate_reference_project` writes it): an NLU example of the
    flow's trigger intent, then an answer to each question the flow asks, in order (those of a
    flow it calls included): a value of the slot's entity, an amount, "yes"."""
    import yaml

    from demo.reference_assistant import ENTITY_VALUES
    from engine import formats

    flows = yaml.safe_load(project["data/flows.yml"])["flows"]
    slots = yaml.safe_load(project["domain.yml"])["slots"]
    examples: dict[str, list[str]] = {}
    for item in yaml.safe_load(project["data/nlu.yml"])["nlu"]:
        if "intent" in item:
            examples[item["intent"]] = [
                formats.parse_example(line.lstrip("- ").strip()).text
                for line in item["examples"].splitlines()
                if line.strip()
            ]

    def answers(flow_id: str, n: int) -> list[str]:
        said: list[str] = []
        for step in flows[flow_id]["steps"]:
            if "collect" in step:
                slot = slots[step["collect"]]
                if slot["type"] == "text":
                    values = ENTITY_VALUES[slot["mappings"][0]["entity"]]
                    said.append(f"it's {values[n % len(values)]}")
                elif slot["type"] == "float":
                    said.append(str(50 + 37 * n))
                elif slot["type"] == "bool":
                    said.append("yes")
            elif "call" in step:
                said.extend(answers(step["call"], n))
        return said

    conversations: list[list[str]] = []
    for flow_id, flow in flows.items():
        for trigger in flow.get("nlu_trigger") or []:
            phrases = examples[trigger["intent"]["name"]]
            n = len(conversations)
            conversations.append([phrases[n % len(phrases)], *answers(flow_id, n)])
    return conversations


def _messages(conversations: list[list[str]], count: int, prefix: str) -> Iterator[tuple[str, str]]:
    """(sender, text) for `count` messages: the conversations in turn, each under a new sender."""
    sent = 0
    number = 0
    while sent < count:
        for text in conversations[number % len(conversations)]:
            if sent >= count:
                return
            yield f"{prefix}-{number}", text
            sent += 1
        number += 1


# --------------------------------------------------------------------------------------------
# Training and the in-process reply


def _write(directory: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        target = directory / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return directory


def _write_reference(root: Path) -> tuple[Path, dict[str, str]]:
    from demo.reference_assistant import generate_reference_project

    project = generate_reference_project()
    return _write(root / "reference", project), project


def _write_embedded(root: Path, project: dict[str, str]) -> Path:
    """The reference assistant with the default sentence-embedding featuriser first in its
    pipeline (the intent classifier then adds its vectors to the n-gram features)."""
    from engine.nlu.pipeline import EMBEDDING_COMPONENT

    config = project["config.yml"]
    marker = "pipeline:\n"
    assert marker in config, "the reference config.yml has no pipeline"
    embedded = config.replace(marker, f"{marker}  - name: {EMBEDDING_COMPONENT}\n", 1)
    return _write(root / "reference-embeddings", {**project, "config.yml": embedded})


def _met(value: float, target: float) -> str:
    return f"< {target:g} ms: {'met' if value < target else 'MISSED'}"


def _train(label: str, project_dir: Path, out: Path) -> tuple[Path, Figure]:
    from engine.train import train_project

    result = train_project(project_dir, out, fixed_model_name=label)
    parts = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in result.timings.items())
    stats = result.metadata["stats"]
    _say(
        f"    train {label}: {parts}; {stats['flows']} flows, {stats['intents']} intents, "
        f"{stats['examples']} examples"
    )
    return result.path, Figure(f"train {label} assistant", result.seconds, "s")


def bench_in_process(
    model_path: Path, conversations: list[list[str]], messages: int, label: str
) -> list[Figure]:
    from engine.server.serve import build_bot

    bot = build_bot(model_path, seed=0)
    for sender, text in _messages(conversations, sum(map(len, conversations)), "warm"):
        bot.handle_message(sender, text)
    latencies = []
    for sender, text in _messages(conversations, messages, "inproc"):
        start = time.perf_counter()
        bot.handle_message(sender, text)
        latencies.append(time.perf_counter() - start)
    bot.close()
    p50 = _percentile(latencies, 0.5) * 1000
    figures = [
        Figure(f"{label}: reply p50, in process ({len(latencies)} messages)", p50, "ms"),
        Figure(f"{label}: reply p99, in process", _percentile(latencies, 0.99) * 1000, "ms"),
    ]
    return figures


# --------------------------------------------------------------------------------------------
# The served bot and the load generator


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cpus() -> list[int]:
    if not hasattr(os, "sched_getaffinity"):
        return []
    return sorted(os.sched_getaffinity(0))


class ServedBot:
    """``python -m engine serve MODEL`` in a process of its own, pinned to `cpu` (None: not)."""

    def __init__(self, model_path: Path, cpu: int | None, log: Path) -> None:
        self.port = _free_port()
        self.cpu = cpu
        command = [sys.executable, "-m", "engine", "serve", str(model_path)]
        command += ["--port", str(self.port), "--seed", "0", "--log-level", "warning"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}

        def pin() -> None:
            if cpu is not None:
                os.sched_setaffinity(0, {cpu})

        self._log = log.open("wb")
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, env=env, preexec_fn=pin
        )
        self._wait_until_up(log)

    def _wait_until_up(self, log: Path) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the bot stopped: {log.read_text(errors='replace')[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the bot did not start within 120 s")

    def rss_mb(self) -> float | None:
        """Resident memory (VmRSS), MB; None where /proc does not tell."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return None

    def cpu_seconds(self) -> float | None:
        """User and system CPU time the process used so far; None where /proc does not tell."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    errors: list[str] = field(default_factory=list)


class LoadGenerator:
    """POSTs messages to the REST channel over keep-alive HTTP/1.1 connections, one connection
    per conversation running at once; each conversation's messages are sent one after the other
    (a message after the bot answered the one before), as a chat client does."""

    def __init__(self, port: int) -> None:
        self.port = port

    def run(self, conversations: list[list[tuple[str, str]]], concurrency: int) -> LoadResult:
        return asyncio.run(self._run(conversations, concurrency))

    async def _run(
        self, conversations: list[list[tuple[str, str]]], concurrency: int
    ) -> LoadResult:
        result = LoadResult()
        queue = iter(conversations)
        began = time.perf_counter()
        await asyncio.gather(*(self._worker(queue, result) for _ in range(concurrency)))
        result.wall = time.perf_counter() - began
        return result

    async def _worker(self, queue: Iterator[list[tuple[str, str]]], result: LoadResult) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            for conversation in queue:
                for sender, text in conversation:
                    body = json.dumps({"sender": sender, "message": text}).encode()
                    request = (
                        b"POST /webhooks/rest/webhook HTTP/1.1\r\nHost: bench\r\n"
                        b"Content-Type: application/json\r\nContent-Length: "
                        + str(len(body)).encode()
                        + b"\r\n\r\n"
                        + body
                    )
                    start = time.perf_counter()
                    writer.write(request)
                    status, answer = await _read_response(reader)
                    result.latencies.append(time.perf_counter() - start)
                    if status != 200 or not isinstance(json.loads(answer), list):
                        result.errors.append(f"{status}: {answer[:200]!r}")
        finally:
            writer.close()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    return status, await reader.readexactly(length)


def _batches(
    conversations: list[list[str]], count: int, prefix: str
) -> list[list[tuple[str, str]]]:
    """`count` conversations (the scripted ones in turn), each under a sender of its own."""
    return [
        [(f"{prefix}-{n}", text) for text in conversations[n % len(conversations)]]
        for n in range(count)
    ]


def bench_http(
    model_path: Path,
    conversations: list[list[str]],
    messages: int,
    conversation_count: int,
    concurrency: int,
    root: Path,
    *,
    label: str = "reference",
    p50_target: float = HTTP_P50_MS,
    load: bool = True,
) -> Iterator[Figure | Skipped]:
    """The served bot's reply latency one message at a time; with `load`, also its throughput
    with `concurrency` conversations at once and its memory after `conversation_count`."""
    cpus = _cpus()
    bot_cpu = cpus[0] if cpus else None
    if len(cpus) > 1:
        os.sched_setaffinity(0, set(cpus[1:]))
    where = f"the bot pinned to CPU {bot_cpu}" if bot_cpu is not None else "the bot not pinned"
    _say(f"    {where}; the load generator on CPUs {cpus[1:] or cpus or '-'}")
    bot = ServedBot(model_path, bot_cpu, root / f"bot-{label}.log")
    try:
        generator = LoadGenerator(bot.port)
        warm = generator.run(_batches(conversations, len(conversations), "warm"), 1)
        if warm.errors:
            raise RuntimeError(f"the bot answered with errors: {warm.errors[:3]}")
        rss_warm = bot.rss_mb()

        sequential = _batches(conversations, max(1, messages // 3), "seq")
        flat = [pair for conversation in sequential for pair in conversation][:messages]
        one = generator.run([flat], 1)
        p50 = _percentile(one.latencies, 0.5) * 1000
        yield Figure(
            f"{label}: reply p50, HTTP ({len(one.latencies)} messages)",
            p50,
            "ms",
            _met(p50, p50_target),
        )
        yield Figure(f"{label}: reply p99, HTTP", _percentile(one.latencies, 0.99) * 1000, "ms")
        if not load:
            return

        batches = _batches(conversations, conversation_count, "load")
        cpu_before = bot.cpu_seconds()
        many = generator.run(batches, concurrency)
        cpu_after = bot.cpu_seconds()
        if many.errors:
            _say(f"    {len(many.errors)} errors, e.g. {many.errors[0]}")
        rate = len(many.latencies) / many.wall
        label = f"{concurrency} conversations at once"
        yield Figure(
            f"reference: messages/s, HTTP, {concurrency} at once, one core",
            rate,
            "msg/s",
            f">= {MESSAGES_PER_SECOND:g}: {'met' if rate >= MESSAGES_PER_SECOND else 'MISSED'}",
        )
        if cpu_before is not None and cpu_after is not None and cpu_after > cpu_before:
            per_cpu = len(many.latencies) / (cpu_after - cpu_before)
            verdict = "met" if per_cpu >= MESSAGES_PER_SECOND else "MISSED"
            yield Figure(
                "reference: messages per CPU-second of the bot",
                per_cpu,
                "msg/s",
                f">= {MESSAGES_PER_SECOND:g}: {verdict}",
            )
        yield Figure(
            f"reference: reply p50, HTTP, {label}",
            _percentile(many.latencies, 0.5) * 1000,
            "ms",
        )
        yield Figure(
            f"reference: reply p99, HTTP, {label}",
            _percentile(many.latencies, 0.99) * 1000,
            "ms",
        )
        rss_after = bot.rss_mb()
        if rss_warm is None or rss_after is None:
            yield Skipped("served bot RSS", "this system has no /proc/<pid>/status")
        else:
            yield Figure("served bot RSS after warm-up", rss_warm, "MB")
            yield Figure(
                f"served bot RSS after {conversation_count + len(conversations)} conversations",
                rss_after,
                "MB",
                baseline=rss_warm,
                baseline_label="after warm-up",
            )
    finally:
        bot.stop()
        if cpus:
            os.sched_setaffinity(0, set(cpus))


# --------------------------------------------------------------------------------------------


def run(
    messages: int = 1000,
    conversations: int = CONVERSATIONS,
    concurrency: int = CONCURRENCY,
) -> Iterator[Figure | Skipped]:
    logging.getLogger("engine.actions").setLevel(logging.ERROR)  # no action server here
    with tempfile.TemporaryDirectory(prefix="engine-bench-") as tmp:
        root = Path(tmp)
        reference_dir, project = _write_reference(root)
        demo_model, figure = _train("demo", HARBOR_BANK, root / "models")
        yield figure
        reference_model, figure = _train("reference", reference_dir, root / "models")
        yield figure
        script = reference_conversations(project)
        _say(
            f"    {len(script)} scripted reference conversations, {sum(map(len, script))} messages"
        )
        figures = bench_in_process(reference_model, script, messages, "reference")
        figures[0].target = _met(figures[0].value, IN_PROCESS_P50_MS)
        yield from figures
        yield from bench_http(reference_model, script, messages, conversations, concurrency, root)
        yield from bench_in_process(demo_model, [list(DEMO_SCRIPT)], messages, "demo")[:1]
        yield from _embedded_reply_path(root, project, script, messages)


def _embedded_reply_path(
    root: Path, project: dict[str, str], script: list[list[str]], messages: int
) -> Iterator[Figure | Skipped]:
    """The reference assistant's reply latency with sentence embeddings, in process and over
    HTTP (the model comes from an installed wheel: skipped when it is not installed)."""
    from engine.nlu.embeddings import EmbeddingUnavailable
    from engine.nlu.pipeline import PipelineError
    from engine.train import TrainingFailed

    label = "reference with embeddings"
    try:
        model, figure = _train(
            "reference-embeddings", _write_embedded(root, project), root / "models"
        )
    except (EmbeddingUnavailable, PipelineError, TrainingFailed) as exc:
        yield Skipped(f"{label}: reply path", f"cannot train with embeddings: {exc}")
        return
    yield figure
    figures = bench_in_process(model, script, messages, label)
    figures[0].target = _met(figures[0].value, EMBEDDED_IN_PROCESS_P50_MS)
    yield from figures
    yield from bench_http(
        model, script, messages, 0, 1, root, label=label,
        p50_target=EMBEDDED_HTTP_P50_MS, load=False,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__)
    parser.add_argument("--messages", type=int, default=1000, help="messages per latency run")
    parser.add_argument(
        "--conversations", type=int, default=CONVERSATIONS, help="conversations of the load run"
    )
    parser.add_argument(
        "--concurrency", type=int, default=CONCURRENCY, help="conversations at once"
    )
    args = parser.parse_args(argv)
    _say(f"== {__doc__.strip().splitlines()[0] if __doc__ else 'engine'}")
    for figure in run(args.messages, args.conversations, args.concurrency):
        _say(figure.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
