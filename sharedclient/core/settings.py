"""The profile's settings file: accounts and (later) identities, never secrets.

Stored as versioned JSON, written atomically. A file from a newer SharedClient is refused rather than
silently downgraded, so nothing the newer version knows about is lost.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from sharedclient.core.errors import AlreadyExistsError, NotFoundError, StorageError
from sharedclient.core.fileio import atomic_write
from sharedclient.core.model import Account, Endpoint, Security

SETTINGS_VERSION = 1


@dataclass(frozen=True)
class Settings:
    version: int = SETTINGS_VERSION
    accounts: tuple[Account, ...] = field(default=())

    def account(self, name: str) -> Account:
        for acct in self.accounts:
            if acct.name == name:
                return acct
        known = ", ".join(a.name for a in self.accounts) or "none yet"
        raise NotFoundError(f"There is no account named “{name}” in this profile (accounts: {known}).")

    def with_account(self, account: Account) -> Settings:
        if any(a.name == account.name for a in self.accounts):
            raise AlreadyExistsError(f"An account named “{account.name}” already exists in this profile.")
        return replace(self, accounts=self.accounts + (account,))

    def without_account(self, name: str) -> Settings:
        self.account(name)  # raises NotFoundError with the list of names
        return replace(self, accounts=tuple(a for a in self.accounts if a.name != name))


def _endpoint_to_json(ep: Endpoint) -> dict[str, Any]:
    return {"host": ep.host, "port": ep.port, "security": ep.security.value}


def _endpoint_from_json(data: dict[str, Any]) -> Endpoint:
    return Endpoint(str(data["host"]), int(data["port"]), Security(data["security"]))


def settings_to_json(settings: Settings) -> dict[str, Any]:
    accounts = []
    for acct in settings.accounts:
        entry = asdict(acct)
        entry["imap"] = _endpoint_to_json(acct.imap)
        entry["smtp"] = _endpoint_to_json(acct.smtp)
        accounts.append(entry)
    return {"version": settings.version, "accounts": accounts}


def settings_from_json(data: dict[str, Any]) -> Settings:
    accounts = []
    for entry in data.get("accounts", []):
        entry = dict(entry)
        entry["imap"] = _endpoint_from_json(entry["imap"])
        entry["smtp"] = _endpoint_from_json(entry["smtp"])
        accounts.append(Account(**entry))
    return Settings(version=SETTINGS_VERSION, accounts=tuple(accounts))


def load_settings(path: Path) -> Settings:
    if not path.exists():
        return Settings()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        version = int(data.get("version", 0))
    except (OSError, ValueError, AttributeError) as exc:
        raise StorageError(f"The settings file {path} is damaged and was not changed ({exc}).") from exc
    if version > SETTINGS_VERSION:
        raise StorageError(
            f"The settings file {path} was written by a newer SharedClient (format {version}); "
            "please update SharedClient instead of risking its data."
        )
    try:
        return settings_from_json(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise StorageError(f"The settings file {path} is damaged and was not changed ({exc!r}).") from exc


def save_settings(path: Path, settings: Settings) -> None:
    text = json.dumps(settings_to_json(settings), indent=2, ensure_ascii=False) + "\n"
    atomic_write(path, text.encode("utf-8"))
