"""Settings for the test suite: the real settings, with a test secret and fast password hashing."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-suite-only-" + "x" * 40)
os.environ.setdefault("STUDIO_VAR_DIR", tempfile.mkdtemp(prefix="studio-test-var-"))
# Each pytest-xdist worker gets a folder of its own under the run's (the workers inherit the
# controller's): a worker's consumers prune model copies and storage that no version in *its*
# database names, so a shared folder would lose the other workers' files. Its children inherit
# the worker's folder (and the marker, so they don't nest another one).
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker and os.environ.get("STUDIO_TEST_VAR_WORKER") != _worker:
    os.environ["STUDIO_VAR_DIR"] = os.path.join(os.environ["STUDIO_VAR_DIR"], _worker)
    os.environ["STUDIO_TEST_VAR_WORKER"] = _worker

from studio.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
# Tests talk plain HTTP to the test client.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: tests that start worker processes share the test database with them.
    # (pytest-xdist gives each test process its own file by suffixing the name.)
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}  # noqa: F405
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    # The same backend with a cheaper flush after each test that commits (its docstring).
    DATABASES["default"]["ENGINE"] = "tests.support.postgresql"  # noqa: F405
