"""The training consumer imports, before it forks a training, everything a training imports."""

import subprocess
import sys
from pathlib import Path

from django.conf import settings

# A training of the demo assistant in a process that preloaded as the consumer does: what the
# training imports on top of the preload is printed (a child forked from the consumer would
# pay for it on every training).
SCRIPT = """
import sys, tempfile
import django
django.setup()
from workers.runners import preload_engine
from workers.training import preload_training
preload_engine()
preload_training()
before = set(sys.modules)
from demo import HARBOR_BANK
from engine.train import train_project
with tempfile.TemporaryDirectory() as out:
    train_project(HARBOR_BANK, out, fixed_model_name="m", cache=out + "/cache")
heavy = ("engine", "sklearn", "scipy", "jinja2", "joblib", "pycrfsuite")
print(sorted(m for m in set(sys.modules) - before if m.split(".")[0] in heavy))
"""


def test_a_training_imports_nothing_the_consumer_did_not_preload():
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
    assert result.stdout.strip().splitlines()[-1] == "[]"
