"""Fixtures for the test story tests: the Seaside Inn reference assistant, trained once, and
its own Rasa SDK action server."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.archive import LoadedModel, load_model
from engine.dialogue import ActionClient, NullActionClient, Processor
from tests.support.processes import Drained, free_port, stop, wait_for_http

REPO = Path(__file__).resolve().parents[3]
SEASIDE = REPO / "demo" / "seaside_inn"
#: The virtualenv with rasa-sdk that `make` builds (its pins conflict with the project's venv).
RASA_SDK_PYTHON = os.environ.get("RASA_SDK_PYTHON", str(REPO / ".venv-actions" / "bin" / "python"))


@pytest.fixture(scope="session")
def seaside_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from engine.train import train_project

    out = tmp_path_factory.mktemp("seaside-model")
    return train_project(SEASIDE, out, fixed_model_name="seaside").path


@pytest.fixture(scope="session")
def seaside_model(seaside_archive: Path) -> LoadedModel:
    model = load_model(seaside_archive)
    assert model.policies is not None, "the archive has no policies component"
    return model


def make_processor(
    model: LoadedModel, action_client: ActionClient | None = None
) -> Callable[[], Processor]:
    """A factory of processors for `model` with its classic policies (custom actions do
    nothing without `action_client`)."""

    def factory() -> Processor:
        return Processor(
            model.dialogue_model,
            model.nlu,
            model.flow_classifier,
            action_client=action_client or NullActionClient(),
            seed=1,
            model_id=model.model_id,
            assistant_id=model.assistant_id,
            policies=model.policies,
        )

    return factory


@pytest.fixture(scope="session")
def seaside_actions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Seaside Inn's own action server (rasa-sdk) on a free loopback port; yields its
    webhook URL."""
    if not Path(RASA_SDK_PYTHON).exists():
        message = f"rasa-sdk is not installed at {RASA_SDK_PYTHON}: run `make install-actions`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    env: dict[str, Any] = {**os.environ, "SANIC_HOST": "127.0.0.1", "PYTHONPATH": str(SEASIDE)}
    process = Drained(
        [RASA_SDK_PYTHON, "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)],
        cwd=SEASIDE,
        env=env,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", process)
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        stop(process, 15, output=False)
