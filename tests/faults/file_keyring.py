"""A keyring backend for child processes in the fault tests: one JSON file named by
``SHAREDCLIENT_TEST_KEYRING`` (kept *outside* the profile dir, playing the OS password store).

Select it with ``PYTHON_KEYRING_BACKEND=tests.faults.file_keyring.FileKeyring``, so the real CLI and GUI run
unchanged in a process the test can ``kill -9``. Tests only: a real install refuses file-based keyrings.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keyring.backend
import keyring.errors


class FileKeyring(keyring.backend.KeyringBackend):
    priority = 1  # type: ignore[assignment]

    @property
    def _path(self) -> Path:
        return Path(os.environ["SHAREDCLIENT_TEST_KEYRING"])

    def _load(self) -> dict[str, str]:
        try:
            return json.loads(self._path.read_text())  # type: ignore[no-any-return]
        except FileNotFoundError:
            return {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}\n{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        entries = self._load()
        entries[f"{service}\n{username}"] = password
        self._path.write_text(json.dumps(entries))

    def delete_password(self, service: str, username: str) -> None:
        entries = self._load()
        if entries.pop(f"{service}\n{username}", None) is None:
            raise keyring.errors.PasswordDeleteError(username)
        self._path.write_text(json.dumps(entries))
