"""The command line, run in-process with a temporary base dir and an in-memory keyring."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tests.memory_keyring import MemoryKeyring
from sharedclient.app import main


class Run:
    def __init__(self, basedir: Path) -> None:
        self.basedir = basedir

    def __call__(self, *argv: str, stdin: str = "") -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = main(["--basedir", str(self.basedir), *argv], stdin=io.StringIO(stdin), stdout=out, stderr=err)
        return code, out.getvalue(), err.getvalue()


@pytest.fixture
def run(tmp_path: Path) -> Run:
    return Run(tmp_path)


ADD = ["account", "add", "work", "--email", "alice@example.test", "--imap", "127.0.0.1:993", "--smtp", "127.0.0.1:465"]


def test_profile_commands(run: Run) -> None:
    assert run("profile", "create", "sales")[0] == 0
    code, _, err = run("profile", "create", "sales")
    assert code == 1 and "already exists" in err
    assert run("profile", "list")[1].split() == ["sales"]
    assert run("profile", "delete", "sales")[0] == 0
    code, _, err = run("profile", "delete", "sales")
    assert code == 1 and err.startswith("sharedclient: There is no profile named “sales”")


def test_account_add_list_remove_keeps_password_in_keyring_only(run: Run, memory_keyring: MemoryKeyring) -> None:
    code, out, err = run(*ADD, "--password-stdin", stdin="hunter2-pw\n")
    assert (code, err) == (0, "")
    assert memory_keyring.entries[("sharedclient/default", "work/imap")] == "hunter2-pw"
    for path in run.basedir.rglob("*"):
        if path.is_file():
            assert b"hunter2-pw" not in path.read_bytes(), path
    code, out, _ = run("account", "list", "--json")
    [acct] = json.loads(out)
    assert acct["imap"] == {"host": "127.0.0.1", "port": 993, "security": "tls"}
    assert acct["username"] == "alice@example.test"
    assert run("account", "remove", "work")[0] == 0
    assert memory_keyring.entries == {}
    assert json.loads(run("account", "list", "--json")[1]) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--imap", "imap.example.test"], "not of the form HOST:PORT"),
        (["--smtp", "smtp:notaport"], "not of the form HOST:PORT"),
        (["--email", "alice"], "not a valid e-mail address"),
        (["--ca-file", "/nonexistent/ca.pem"], "does not exist"),
    ],
)
def test_bad_account_input_is_one_sentence_and_stores_nothing(
    run: Run, memory_keyring: MemoryKeyring, change: list[str], message: str
) -> None:
    code, out, err = run(*ADD, *change, "--password-stdin", stdin="pw\n")
    assert code == 1 and message in err and err.count("\n") == 1 and "Traceback" not in err
    assert memory_keyring.entries == {}


def test_duplicate_account_is_refused_without_touching_the_password(run: Run, memory_keyring: MemoryKeyring) -> None:
    run(*ADD, "--password-stdin", stdin="first\n")
    code, _, err = run(*ADD, "--password-stdin", stdin="second\n")
    assert code == 1 and "already exists" in err
    assert memory_keyring.entries[("sharedclient/default", "work/imap")] == "first"


def test_no_secure_keyring_means_no_account_and_clear_advice(run: Run) -> None:
    import keyring
    import keyring.backends.fail

    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        code, _, err = run(*ADD, "--password-stdin", stdin="pw\n")
    finally:
        keyring.set_keyring(previous)
    assert code == 1 and "No secure password store" in err and "gnome-keyring" in err
    assert json.loads(run("account", "list", "--json")[1]) == []


def test_unknown_account_and_profile(run: Run, memory_keyring: MemoryKeyring) -> None:
    code, _, err = run("account", "test", "nope")
    assert code == 1 and "no account named “nope”" in err
    code, _, err = run("--profile", "ghost", "account", "list")
    assert code == 1 and "no profile named “ghost”" in err


def test_empty_password_is_refused(run: Run, memory_keyring: MemoryKeyring) -> None:
    code, _, err = run(*ADD, "--password-stdin", stdin="\n")
    assert code == 1 and "password is empty" in err


def test_sharedclient_home_env_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHAREDCLIENT_HOME", str(tmp_path / "home"))
    out = io.StringIO()
    assert main(["profile", "create", "x"], stdout=out) == 0
    assert (tmp_path / "home" / "config" / "x" / "settings.json").is_file()
