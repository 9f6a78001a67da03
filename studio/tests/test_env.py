import pytest
from django.core.exceptions import ImproperlyConfigured

from studio.env import env_bool, env_choice, env_int, env_list, env_secret, env_str


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("YES", True),
        ("1", True),
        ("on", True),
        ("false", False),
        ("No", False),
        ("0", False),
    ],
)
def test_it_reads_booleans(monkeypatch, raw, expected):
    monkeypatch.setenv("FLAG", raw)
    assert env_bool("FLAG", not expected) is expected


def test_it_uses_the_default_for_unset_and_empty(monkeypatch):
    monkeypatch.delenv("FLAG", raising=False)
    assert env_bool("FLAG", True) is True
    monkeypatch.setenv("FLAG", "  ")
    assert env_bool("FLAG", False) is False
    assert env_int("FLAG", 7) == 7
    assert env_list("FLAG", ["a"]) == ["a"]
    assert env_str("FLAG", "d") == "d"


@pytest.mark.parametrize(
    ("helper", "raw", "message"),
    [
        (lambda: env_bool("VAR", False), "maybe", "VAR='maybe' is not a boolean"),
        (lambda: env_int("VAR", 1), "12s", "VAR='12s' is not a whole number"),
        (lambda: env_int("VAR", 1, minimum=1), "0", "VAR=0 is too small"),
        (lambda: env_list("VAR"), "a,,b", "empty item"),
        (lambda: env_choice("VAR", "a", ["a", "b"]), "c", "VAR='c' must be one of: a, b"),
    ],
)
def test_it_rejects_malformed_values_naming_the_variable(monkeypatch, helper, raw, message):
    monkeypatch.setenv("VAR", raw)
    with pytest.raises(ImproperlyConfigured, match=message):
        helper()


def test_it_parses_lists(monkeypatch):
    monkeypatch.setenv("HOSTS", "a.example.com, b.example.com")
    assert env_list("HOSTS") == ["a.example.com", "b.example.com"]


def test_it_reads_secrets_from_files(monkeypatch, tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("s3cret\n")
    monkeypatch.delenv("TOKEN", raising=False)
    monkeypatch.setenv("TOKEN_FILE", str(secret_file))
    assert env_secret("TOKEN") == "s3cret"


def test_it_refuses_both_a_secret_and_its_file(monkeypatch, tmp_path):
    monkeypatch.setenv("TOKEN", "a")
    monkeypatch.setenv("TOKEN_FILE", str(tmp_path / "x"))
    with pytest.raises(ImproperlyConfigured, match="only one of TOKEN and TOKEN_FILE"):
        env_secret("TOKEN")


def test_it_names_an_unreadable_secret_file(monkeypatch, tmp_path):
    monkeypatch.delenv("TOKEN", raising=False)
    monkeypatch.setenv("TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match=r"TOKEN_FILE=.* cannot be read"):
        env_secret("TOKEN")
