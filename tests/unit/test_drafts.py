from pathlib import Path

import pytest

from sharedclient.core.drafts import Draft, DraftStore
from sharedclient.core.errors import StorageError


def test_save_load_pending_delete(tmp_path: Path) -> None:
    store = DraftStore(tmp_path / "drafts")
    first = store.save(Draft(identity="support@example.test", to=("a@example.org",), subject="Hi", body="Hello"))
    second = store.save(Draft(subject="later"))
    assert store.load(first.id) == first
    assert [d.id for d in store.pending()] == [second.id, first.id]
    store.delete(first.id)
    assert [d.id for d in store.pending()] == [second.id]


def test_disk_full_keeps_the_previous_draft(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = DraftStore(tmp_path)
    draft = store.save(Draft(body="version one"))

    def disk_full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("sharedclient.core.fileio.os.replace", disk_full)
    with pytest.raises(StorageError, match="No space left"):
        store.save(Draft(id=draft.id, body="version two"))
    monkeypatch.undo()
    assert store.load(draft.id).body == "version one"


def test_damaged_draft_is_skipped_not_deleted(tmp_path: Path) -> None:
    store = DraftStore(tmp_path)
    (tmp_path / "abc.json").write_text("{broken")
    assert store.pending() == []
    assert (tmp_path / "abc.json").exists()
    with pytest.raises(StorageError):
        store.load("../etc")


def test_empty() -> None:
    assert Draft().is_empty and not Draft(body="x").is_empty
