"""ProfileStore.rename: settings and data move together; refused for a name in use or a locked profile."""

from pathlib import Path

import pytest

from sharedclient.core.errors import AlreadyExistsError, NotFoundError, ProfileLockedError, UsageError
from sharedclient.core.model import Account, Endpoint
from sharedclient.core.profiles import ProfileStore


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
