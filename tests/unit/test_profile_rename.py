"""ProfileStore.rename: settings and data move together; refused for a name in use or a locked profile."""

from pathlib import Path

import pytest

from sharedclient.core.errors import AlreadyExistsError, NotFoundError, ProfileLockedError, UsageError
from sharedclient.core.model import Account, Endpoint
from sharedclient.core.profiles import ProfileStore
from tests.memory_keyring import memory_keyring  # noqa: F401 - fixture


def test_rename_moves_settings_and_data(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path)
    work = store.create("work")
    ep = Endpoint("imap.example.test", 993)
    work.save(work.load().with_account(Account("a", "a@example.test", ep, ep, "a@example.test")))
    (work.data_dir / "cache-a.sqlite").write_bytes(b"x")
    renamed = store.rename("work", "office")
    assert store.names() == ["office"]
    assert [a.name for a in renamed.load().accounts] == ["a"]
    assert (renamed.data_dir / "cache-a.sqlite").read_bytes() == b"x"
    assert not work.config_dir.exists() and not work.data_dir.exists()


def test_rename_refusals(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path)
    store.create("a")
    store.create("b")
    with pytest.raises(AlreadyExistsError):
        store.rename("a", "b")
    with pytest.raises(NotFoundError):
        store.rename("missing", "c")
    with pytest.raises(UsageError):
        store.rename("a", "../escape")
    with store.get("a").lock(), pytest.raises(ProfileLockedError):
        store.rename("a", "c")
    assert store.names() == ["a", "b"]


def test_cli_profile_rename_moves_passwords(tmp_path: Path, memory_keyring) -> None:  # type: ignore[no-untyped-def]
    import io

    from sharedclient.app import main
    from sharedclient.core.secrets import KeyringCredentials

    def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = main(["--basedir", str(tmp_path), *argv], stdin=io.StringIO(stdin), stdout=out, stderr=err)
        return code, out.getvalue(), err.getvalue()

    assert run("profile", "create", "work")[0] == 0
    add = ["--profile", "work", "account", "add", "a", "--email", "a@example.test", "--imap", "127.0.0.1:993",
           "--smtp", "127.0.0.1:465", "--password-stdin"]  # fmt: skip
    assert run(*add, stdin="pw-a\n")[0] == 0
    code, out, _ = run("profile", "rename", "work", "office")
    assert code == 0 and out.strip() == "Renamed profile “work” to “office”."
    assert KeyringCredentials("office").get("a", "smtp") == "pw-a" and KeyringCredentials("work").get("a", "imap") is None
    code, _, err = run("profile", "rename", "office", "bad/name")
    assert code == 1 and "not a valid profile name" in err
    assert run("profile", "list")[1].split() == ["office"]
