"""Profiles: isolated folders of settings and data, one per set of accounts.

Layout with ``--basedir D`` (or ``SHAREDCLIENT_HOME``)::

    D/config/<profile>/settings.json     settings, no secrets
    D/data/<profile>/                    databases, lock file

Without a base dir, platformdirs' user config and data dirs take the place of ``D/config`` and ``D/data``.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from sharedclient.core.errors import AlreadyExistsError, NotFoundError, ProfileLockedError, UsageError
from sharedclient.core.settings import Settings, load_settings, save_settings

APP_NAME = "sharedclient"
DEFAULT_PROFILE = "default"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def validate_profile_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise UsageError(
            f"“{name}” is not a valid profile name: use up to 64 letters, digits, dots, dashes or underscores."
        )
    return name


@dataclass(frozen=True)
class Profile:
    name: str
    config_dir: Path
    data_dir: Path

    @property
    def settings_path(self) -> Path:
        return self.config_dir / "settings.json"

    def load(self) -> Settings:
        return load_settings(self.settings_path)

    def save(self, settings: Settings) -> None:
        save_settings(self.settings_path, settings)

    def lock(self) -> ProfileLock:
        return ProfileLock(self.data_dir / "lock", self.name)


class ProfileStore:
    """Finds, creates and deletes profiles below one root."""

    def __init__(self, basedir: Path | None = None) -> None:
        if basedir is None:
            self.config_root = Path(platformdirs.user_config_dir(APP_NAME)) / "profiles"
            self.data_root = Path(platformdirs.user_data_dir(APP_NAME)) / "profiles"
        else:
            self.config_root = Path(basedir) / "config"
            self.data_root = Path(basedir) / "data"

    def _profile(self, name: str) -> Profile:
        validate_profile_name(name)
        return Profile(name, self.config_root / name, self.data_root / name)

    def names(self) -> list[str]:
        if not self.config_root.is_dir():
            return []
        return sorted(p.name for p in self.config_root.iterdir() if p.is_dir() and _NAME_RE.match(p.name))

    def exists(self, name: str) -> bool:
        return self._profile(name).config_dir.is_dir()

    def create(self, name: str) -> Profile:
        profile = self._profile(name)
        if profile.config_dir.exists():
            raise AlreadyExistsError(f"A profile named “{name}” already exists.")
        profile.config_dir.mkdir(parents=True, mode=0o700)
        profile.data_dir.mkdir(parents=True, mode=0o700, exist_ok=True)
        profile.save(Settings())
        return profile

    def get(self, name: str, *, create_default: bool = True) -> Profile:
        """Return an existing profile; the default profile is created on first use."""
        profile = self._profile(name)
        if not profile.config_dir.is_dir():
            if create_default and name == DEFAULT_PROFILE:
                return self.create(name)
            known = ", ".join(self.names()) or "none yet"
            raise NotFoundError(f"There is no profile named “{name}” (profiles: {known}).")
        profile.data_dir.mkdir(parents=True, mode=0o700, exist_ok=True)
        return profile

    def rename(self, old: str, new: str) -> Profile:
        """Move a profile's settings and data to a new name; refused while a running SharedClient uses it.

        Passwords are keyed by profile name in the keyring: the caller moves them (see ui.profilechooser).
        """
        source = self.get(old, create_default=False)
        target = self._profile(new)
        if target.config_dir.exists() or target.data_dir.exists():
            raise AlreadyExistsError(f"A profile named “{new}” already exists.")
        with source.lock():
            source.config_dir.rename(target.config_dir)
            if source.data_dir.exists():
                source.data_dir.rename(target.data_dir)
        return self.get(new, create_default=False)

    def delete(self, name: str) -> None:
        profile = self.get(name, create_default=False)
        with profile.lock():
            shutil.rmtree(profile.config_dir)
        shutil.rmtree(profile.data_dir, ignore_errors=True)


class ProfileLock:
    """An advisory lock (flock) so two running SharedClients never share one profile.

    flock is released by the kernel when the process dies, so a crash never leaves a stale lock.
    """

    def __init__(self, path: Path, profile_name: str) -> None:
        self.path = path
        self.profile_name = profile_name
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise ProfileLockedError(
                f"The profile “{self.profile_name}” is in use by another running SharedClient (process {holder}); "
                "close it first or choose another profile with --profile."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ProfileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
