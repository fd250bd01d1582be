"""The profile's settings file: accounts and identities, never secrets.

Stored as versioned JSON, written atomically. A file from a newer SharedClient is refused rather than
silently downgraded, so nothing the newer version knows about is lost.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from sharedclient.core.dlp_policy import DlpPolicy, policy_from_json, policy_to_json
from sharedclient.core.errors import AlreadyExistsError, NotFoundError, StorageError, UsageError
from sharedclient.core.fileio import atomic_write
from sharedclient.core.model import Account, Endpoint, Identity, Security, SendMode

#: 2 added ``dlp`` (data-loss rules and sending-volume limits): a version-1 SharedClient would drop it on save.
SETTINGS_VERSION = 2


@dataclass(frozen=True)
class Settings:
    version: int = SETTINGS_VERSION
    accounts: tuple[Account, ...] = field(default=())
    identities: tuple[Identity, ...] = field(default=())  # explicit ones; see core.identities for implicit
    dlp: DlpPolicy = field(default_factory=DlpPolicy)  # data-loss rules, sending-volume limits (core.dlp_policy)

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
        return replace(
            self,
            accounts=tuple(a for a in self.accounts if a.name != name),
            identities=tuple(i for i in self.identities if i.account != name),  # they cannot send any more
        )

    def identity(self, address: str) -> Identity:
        """The explicitly configured identity for ``address`` (case-insensitive)."""
        for ident in self.identities:
            if ident.address.lower() == address.lower():
                return ident
        known = ", ".join(i.address for i in self.identities) or "none yet"
        raise NotFoundError(f"There is no identity “{address}” in this profile (identities: {known}).")

    def with_identity(self, identity: Identity) -> Settings:
        self.account(identity.account)  # an identity always sends through an existing account
        if any(i.address.lower() == identity.address.lower() for i in self.identities):
            raise AlreadyExistsError(f"An identity for {identity.address} already exists in this profile.")
        return replace(self, identities=self.identities + (identity,))

    def without_identity(self, address: str) -> Settings:
        self.identity(address)
        return replace(self, identities=tuple(i for i in self.identities if i.address.lower() != address.lower()))


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
    identities = []
    for ident in settings.identities:
        entry = asdict(ident)
        entry["mode"] = ident.mode.value
        entry["aliases"] = list(ident.aliases)
        identities.append(entry)
    data = {"version": settings.version, "accounts": accounts, "identities": identities}
    if settings.dlp != DlpPolicy():
        data["dlp"] = policy_to_json(settings.dlp)
    return data


def settings_from_json(data: dict[str, Any]) -> Settings:
    accounts = []
    for entry in data.get("accounts", []):
        entry = dict(entry)
        entry["imap"] = _endpoint_from_json(entry["imap"])
        entry["smtp"] = _endpoint_from_json(entry["smtp"])
        accounts.append(Account(**entry))
    identities = []
    for entry in data.get("identities", []):  # files from before identities existed have no key
        entry = dict(entry)
        entry["mode"] = SendMode(entry.get("mode", SendMode.OWN.value))
        entry["aliases"] = tuple(entry.get("aliases", ()))
        identities.append(Identity(**entry))
    dlp = policy_from_json(data.get("dlp"))
    return Settings(version=SETTINGS_VERSION, accounts=tuple(accounts), identities=tuple(identities), dlp=dlp)


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
    except UsageError as exc:
        raise StorageError(f"The settings file {path} has a problem and was not changed: {exc.user_message}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise StorageError(f"The settings file {path} is damaged and was not changed ({exc!r}).") from exc


def save_settings(path: Path, settings: Settings) -> None:
    text = json.dumps(settings_to_json(settings), indent=2, ensure_ascii=False) + "\n"
    atomic_write(path, text.encode("utf-8"))
