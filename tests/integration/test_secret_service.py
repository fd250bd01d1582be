"""Against a real Secret Service (gnome-keyring on a private D-Bus session): a password stored by one
process is read by another, and never lands in a SharedClient file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.secretservice

SCRIPT = r"""
set -eu
printf 'keyring-unlock-pw' | gnome-keyring-daemon --unlock --components=secrets >/dev/null
"$PY" -m sharedclient --basedir "$BASEDIR" account add work --email alice@example.test \
    --imap 127.0.0.1:993 --smtp 127.0.0.1:465 --password-stdin <<< 'S3cret-from-process-one'
"$PY" -c 'from sharedclient.core.secrets import KeyringCredentials; import keyring
print(type(keyring.get_keyring()).__module__)
print(KeyringCredentials("default").get("work", "smtp"))'
"""


def test_password_stored_by_one_process_is_read_by_another(tmp_path: Path) -> None:
    missing = [tool for tool in ("dbus-run-session", "gnome-keyring-daemon") if shutil.which(tool) is None]
    if missing:
        reason = "needs a Secret Service: sudo apt-get install gnome-keyring dbus"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_RUNTIME_DIR": str(runtime),
        "PY": sys.executable,
        "BASEDIR": str(tmp_path / "sc"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    result = subprocess.run(
        ["dbus-run-session", "--", "bash", "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    backend_module, password = result.stdout.strip().splitlines()[-2:]
    assert backend_module == "keyring.backends.SecretService"
    assert password == "S3cret-from-process-one"
    for path in (tmp_path / "sc").rglob("*"):
        if path.is_file():
            assert b"S3cret-from-process-one" not in path.read_bytes(), path
