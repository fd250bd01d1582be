import json
from pathlib import Path

import pytest

from sharedclient.core.errors import AlreadyExistsError, NotFoundError, StorageError
from sharedclient.core.model import Account, Endpoint, Security
from sharedclient.core.settings import SETTINGS_VERSION, Settings, load_settings, save_settings


def make_account(name: str = "work") -> Account:
    return Account(
        name=name,
        email="alice@example.test",
        imap=Endpoint("127.0.0.1", 993, Security.TLS),
        smtp=Endpoint("127.0.0.1", 587, Security.STARTTLS),
        username="alice@example.test",
        ca_file="/tmp/ca.pem",
    )


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    settings = Settings().with_account(make_account())
    save_settings(path, settings)
    assert load_settings(path) == settings
    assert json.loads(path.read_text())["version"] == SETTINGS_VERSION
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_missing_file_is_empty_settings(tmp_path: Path) -> None:
    assert load_settings(tmp_path / "none.json") == Settings()


def test_newer_format_is_refused_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": SETTINGS_VERSION + 1, "accounts": []}))
    with pytest.raises(StorageError, match="newer SharedClient"):
        load_settings(path)


@pytest.mark.parametrize("content", ["{not json", '{"version": 1, "accounts": [{"name": "x"}]}', "[]"])
def test_damaged_file_gives_a_sentence(tmp_path: Path, content: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(content)
    with pytest.raises(StorageError, match="damaged"):
        load_settings(path)


def test_failed_write_keeps_previous_file_and_leaves_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "settings.json"
    save_settings(path, Settings().with_account(make_account()))
    before = path.read_bytes()

    def disk_full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("sharedclient.core.fileio.os.replace", disk_full)
    with pytest.raises(StorageError, match="No space left on device.*previous version is unchanged"):
        save_settings(path, Settings())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]


def test_account_lookup_errors_name_the_known_accounts() -> None:
    settings = Settings().with_account(make_account("work"))
    with pytest.raises(NotFoundError, match="work"):
        settings.account("home")
    with pytest.raises(AlreadyExistsError):
        settings.with_account(make_account("work"))
    assert settings.without_account("work").accounts == ()
