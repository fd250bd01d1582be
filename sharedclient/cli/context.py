"""What every CLI command gets: resolved paths, streams, and how to reach the password store."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from sharedclient.core.profiles import Profile, ProfileStore
from sharedclient.core.secrets import CredentialStore, KeyringCredentials, forget_passwords


@dataclass
class CliContext:
    store: ProfileStore
    profile_name: str
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    credentials_factory: Callable[[str], CredentialStore] = KeyringCredentials

    def profile(self) -> Profile:
        return self.store.get(self.profile_name)

    def credentials(self) -> CredentialStore:
        return self.credentials_factory(self.profile_name)

    def out(self, text: str = "") -> None:
        print(text, file=self.stdout)

    def forget_passwords(self, profile_name: str, accounts: list[str]) -> None:
        """Remove stored passwords; without a secure keyring none can have been stored."""
        if accounts:
            forget_passwords(self.credentials_factory, profile_name, accounts)
