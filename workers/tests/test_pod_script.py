"""pod.py, what runs inside training and bot pods: fetching, training and sending, probing."""

from __future__ import annotations

import io
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from workers import pod


class Web:
    """A tiny stand-in for Studio's web: answers GETs from `files`, keeps what is PUT."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[int, bytes]] = {}
        self.received: dict[str, bytes] = {}
        web = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = web.files.get(self.path, (404, b"no such link"))
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_PUT(self) -> None:
                length = int(self.headers["Content-Length"])
                web.received[self.path] = self.rfile.read(length)
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def web():
    server = Web()
    yield server
    server.server.shutdown()


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, content in files.items():
            bundle.writestr(name, content)
    return buffer.getvalue()


def test_fetch_unpacks_the_project_and_copies_itself(web, tmp_path, monkeypatch):
    web.files["/input"] = (200, zipped({"domain.yml": b"intents: []\n", "data/nlu.yml": b"x"}))
    monkeypatch.setenv("INPUT", web.url + "/input")
    # The root filesystem is read-only: HOME and TMPDIR are made in the pod's volume.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    code = pod.main(
        [
            *("fetch", "--url-env", "INPUT", "--extract"),
            *("--into", str(tmp_path / "project"), "--copy-self", str(tmp_path / "pod.py")),
        ]
    )
    assert code == 0
    assert (tmp_path / "project/data/nlu.yml").read_bytes() == b"x"
    assert (tmp_path / "pod.py").read_text() == Path(pod.__file__).read_text()
    assert not list(tmp_path.glob("*.zip"))
    assert (tmp_path / "home").is_dir() and (tmp_path / "tmp").is_dir()


@pytest.mark.parametrize("name", ["../escape.yml", "/etc/passwd", "a/../../b"])
def test_fetch_refuses_an_entry_that_would_land_outside_the_project(tmp_path, name):
    archive = tmp_path / "bad.zip"
    archive.write_bytes(zipped({name: b"x"}))
    with pytest.raises(SystemExit, match="refusing"):
        pod.extract(archive, tmp_path / "project")
    assert not (tmp_path / "escape.yml").exists()


def test_a_refused_link_fails_at_once_with_the_answer(web, tmp_path, monkeypatch):
    web.files["/model"] = (403, b'{"error": "This link is not valid"}')
    monkeypatch.setenv("MODEL", web.url + "/model")
    with pytest.raises(SystemExit, match=r"HTTP 403.*not valid"):
        pod.main(["fetch", "--url-env", "MODEL", "--into", str(tmp_path / "m.tar.gz")])


def test_a_missing_variable_is_named(monkeypatch, tmp_path):
    monkeypatch.delenv("NOWHERE", raising=False)
    with pytest.raises(SystemExit, match=r"\$NOWHERE is not set"):
        pod.main(["fetch", "--url-env", "NOWHERE", "--into", str(tmp_path / "x")])


def train(web: Web, out: Path, name: str, code: str) -> int:
    """pod.py's train around `python -c code`, sending to the web's /output."""
    command = [sys.executable, "-c", code]
    return pod.main(
        ["train", "--out", str(out), "--name", name, "--upload-env", "OUTPUT", "--", *command]
    )


def test_train_runs_the_command_and_sends_its_archive(web, tmp_path, monkeypatch):
    monkeypatch.setenv("OUTPUT", web.url + "/output")
    out = tmp_path / "out"
    code = train(web, out, "bank-3", f"open({str(out / 'bank-3.tar.gz')!r}, 'wb').write(b'model')")
    assert code == 0
    assert web.received["/output"] == b"model"


def test_a_failed_training_sends_nothing_and_keeps_its_exit_code(web, tmp_path, monkeypatch):
    monkeypatch.setenv("OUTPUT", web.url + "/output")
    assert train(web, tmp_path, "x", "raise SystemExit(3)") == 3
    assert not web.received


def test_a_training_that_wrote_no_archive_fails(web, tmp_path, monkeypatch):
    monkeypatch.setenv("OUTPUT", web.url + "/output")
    assert train(web, tmp_path, "x", "pass") == 1
    assert not web.received


def test_ready_asks_the_bot_for_its_status_with_its_token(web, monkeypatch):
    port = web.server.server_port
    monkeypatch.setenv("ENGINE_AUTH_TOKEN", "tok")
    assert pod.main(["ready", "--port", str(port)]) == 1  # 404: not ready
    web.files["/status?token=tok"] = (200, b"{}")
    assert pod.main(["ready", "--port", str(port)]) == 0
    monkeypatch.delenv("ENGINE_AUTH_TOKEN")
    assert pod.main(["ready", "--port", str(port)]) == 1
