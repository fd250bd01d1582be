"""Where passwords live: the OS keyring, or (when none is secure) only in memory for this session.

Keyring layout: service ``sharedclient/<profile>``, user ``<account>/imap`` or ``<account>/smtp``.
SharedClient never writes a password to a file; a keyring backend that would (keyrings.alt's
plaintext/encrypted files) or that cannot store anything (fail, null) is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Literal, Protocol

import keyring
import keyring.backend
import keyring.errors
from keyring.backends import chainer

from sharedclient.core.errors import SecretStoreError

log = logging.getLogger(__name__)

Purpose = Literal["imap", "smtp"]

# Backends that either store nothing or write secrets into ordinary files.
_INSECURE_MODULES = ("keyring.backends.fail", "keyring.backends.null", "keyrings.alt")

INSTALL_HINT = (
    "Install and unlock a desktop password store such as GNOME Keyring "
    "(sudo apt-get install gnome-keyring) or KWallet; SharedClient never writes passwords to files."
)


class CredentialStore(Protocol):
    """What the rest of SharedClient needs from a password store."""

    def get(self, account: str, purpose: Purpose) -> str | None: ...

    def set(self, account: str, purpose: Purpose, password: str) -> None: ...

    def delete(self, account: str) -> None: ...


def _secure_backends(backend: keyring.backend.KeyringBackend) -> list[keyring.backend.KeyringBackend]:
    candidates = backend.backends if isinstance(backend, chainer.ChainerBackend) else [backend]
    return [b for b in candidates if not type(b).__module__.startswith(_INSECURE_MODULES)]


def backend_is_secure(backend: keyring.backend.KeyringBackend) -> bool:
    return bool(_secure_backends(backend))


class KeyringCredentials:
    """Passwords in the OS keyring (Secret Service, KWallet, macOS Keychain, Windows Credential Locker)."""

    def __init__(self, profile: str, backend: keyring.backend.KeyringBackend | None = None) -> None:
        backend = backend if backend is not None else keyring.get_keyring()
        if not backend_is_secure(backend):
            raise SecretStoreError(f"No secure password store is available (found {backend.name!r}). {INSTALL_HINT}")
        self._backend = backend
        self._service = f"sharedclient/{profile}"

    def _call(self, what: str, func, *args):  # type: ignore[no-untyped-def]
        try:
            return func(self._service, *args)
        except keyring.errors.KeyringError as exc:
            raise SecretStoreError(f"The password store refused to {what} ({exc}). {INSTALL_HINT}") from exc

    def get(self, account: str, purpose: Purpose) -> str | None:
        return self._call("read a password", self._backend.get_password, f"{account}/{purpose}")

    def set(self, account: str, purpose: Purpose, password: str) -> None:
        self._call("store a password", self._backend.set_password, f"{account}/{purpose}", password)

    def delete(self, account: str) -> None:
        for purpose in ("imap", "smtp"):
            try:
                self._backend.delete_password(self._service, f"{account}/{purpose}")
            except keyring.errors.PasswordDeleteError:
                pass  # nothing stored: fine
            except keyring.errors.KeyringError as exc:
                raise SecretStoreError(f"The password store refused to delete a password ({exc}).") from exc


class SessionCredentials:
    """Passwords held in memory only, for one run (no secure keyring, or the demo)."""

    def __init__(self) -> None:
        self._secrets: dict[tuple[str, str], str] = {}

    def get(self, account: str, purpose: Purpose) -> str | None:
        return self._secrets.get((account, purpose))

    def set(self, account: str, purpose: Purpose, password: str) -> None:
        self._secrets[(account, purpose)] = password

    def delete(self, account: str) -> None:
        for key in [k for k in self._secrets if k[0] == account]:
            del self._secrets[key]


def move_passwords(factory: Callable[[str], CredentialStore], old: str, new: str, accounts: Iterable[str]) -> None:
    """Keyring entries follow a renamed profile; without a secure keyring there are none to move."""
    try:
        source, target = factory(old), factory(new)
    except SecretStoreError:
        return
    for account in accounts:
        for purpose in ("imap", "smtp"):
            secret = source.get(account, purpose)  # type: ignore[arg-type]
            if secret is not None:
                target.set(account, purpose, secret)  # type: ignore[arg-type]
        source.delete(account)


def forget_passwords(factory: Callable[[str], CredentialStore], profile: str, accounts: Iterable[str]) -> None:
    """Remove a profile's stored passwords; without a secure keyring none can have been stored."""
    try:
        creds = factory(profile)
    except SecretStoreError:
        return
    for account in accounts:
        creds.delete(account)
