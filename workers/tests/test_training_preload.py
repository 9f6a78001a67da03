"""The training consumer imports, before it forks a training, everything a training imports,
and does once what each training would otherwise do first."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

# Trainings of the demo assistant in a process that preloaded as the consumer does. It prints
# what they import on top of the preload, and how often the first one (no cache: every
# component in this process) did what the preload does once: look up package metadata (the
# dataframe plug-ins scikit-learn asks for), look for the thread pools, parse the pattern
# flows. A child forked from the consumer would pay for each on every training.
SCRIPT = """
import importlib.metadata, json, sys, tempfile
import django
django.setup()
from workers.runners import preload_engine
from workers.training import preload_training
preload_engine()
preload_training()
before = set(sys.modules)
counts = {"entry_points": 0, "thread_pools": 0}
entry_points = importlib.metadata.entry_points
def counted_entry_points(*args, **kwargs):
    counts["entry_points"] += 1
    return entry_points(*args, **kwargs)
importlib.metadata.entry_points = counted_entry_points
import threadpoolctl
controller_init = threadpoolctl.ThreadpoolController.__init__
def counted_init(self, *args, **kwargs):
    counts["thread_pools"] += 1
    controller_init(self, *args, **kwargs)
threadpoolctl.ThreadpoolController.__init__ = counted_init
from demo import HARBOR_BANK
from engine.dialogue import model
from engine.train import train_project
misses = model._defaults_project.cache_info().misses
with tempfile.TemporaryDirectory() as out:
    train_project(HARBOR_BANK, out, fixed_model_name="m")
    counts["pattern_parses"] = model._defaults_project.cache_info().misses - misses
    train_project(HARBOR_BANK, out, fixed_model_name="m", cache=out + "/cache")
heavy = ("engine", "sklearn", "scipy", "jinja2", "joblib", "pycrfsuite")
counts["imports"] = sorted(m for m in set(sys.modules) - before if m.split(".")[0] in heavy)
print(json.dumps(counts))
"""


@pytest.fixture(scope="module")
def after_preload() -> dict:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=Path(settings.BASE_DIR),
        capture_output=True,
        text=True,
        check=False,
        env={"DJANGO_SETTINGS_MODULE": "studio.settings", "DEBUG": "true", "PATH": "/usr/bin"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_training_imports_nothing_the_consumer_did_not_preload(after_preload):
    assert after_preload["imports"] == []


def test_a_training_does_not_do_again_what_the_consumer_did_once(after_preload):
    assert after_preload["entry_points"] == 0
    assert after_preload["thread_pools"] == 0
    assert after_preload["pattern_parses"] == 0
