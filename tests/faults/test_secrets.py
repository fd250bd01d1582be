"""No password in any file SharedClient writes, in its logs or in what it prints — also at DEBUG level
(``-v``), also when a login fails, also in the crash dump of a killed process.

A full session runs in child processes (the real CLI; passwords live in the stand-in OS keyring of
:mod:`tests.faults.file_keyring`, outside the profile dir): account add, account test, mailboxes, sync,
messages, show, send, outbox, log, then a login with a wrong password, the window (offscreen) on the same
profile, then a ``kill -9`` and SIGABRT in the middle of a send. Every file under the profile dir and every byte printed are searched for each
password in the forms it can take on the wire or in a log (raw, AUTH PLAIN / LOGIN base64, quoted, URL).
"""

from __future__ import annotations

import base64
import os
import signal
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING

from tests.conftest import addr, password
from tests.faults.child import outbox_rows, run_cli, start_cli, wait_until
from tests.faults.gate import TlsGate

if TYPE_CHECKING:
    from tests.conftest import MailServers

WRONG = "Wr0ng-but-still-secret-pw"


def leak_forms(login: str, secret: str) -> dict[str, bytes]:
    """Every way ``secret`` could appear in a file or log."""
    forms = {
        "raw": secret.encode(),
        "AUTH PLAIN": base64.b64encode(f"\0{login}\0{secret}".encode()),
        "AUTH PLAIN with authzid": base64.b64encode(f"{login}\0{login}\0{secret}".encode()),
        "AUTH LOGIN": base64.b64encode(secret.encode()),
        "url-quoted": urllib.parse.quote(secret).encode(),
        "repr of bytes": repr(secret.encode()).encode(),
        "utf-16": secret.encode("utf-16-le"),
    }
    # base64 of the secret at the other two alignments inside a longer blob (e.g. "\0login\0secret")
    for pad in (1, 2):
        chunk = base64.b64encode(b"\0" * pad + secret.encode())[4:-4]
        forms[f"base64 offset {pad}"] = chunk
    return forms


def find_leaks(blobs: dict[str, bytes], secrets: dict[str, str]) -> list[str]:
    leaks = []
    for where, data in blobs.items():
        for login, secret in secrets.items():
            for form, needle in leak_forms(login, secret).items():
                if needle and needle in data:
                    leaks.append(f"{secret!r} ({form}) in {where}")
    return leaks


def test_no_password_in_any_file_log_or_output_after_a_full_session(
    tmp_path: Path, mail_servers: MailServers
) -> None:
    basedir, keyring_file = tmp_path / "profile", tmp_path / "keyring.json"
    printed: dict[str, bytes] = {}

    def cli(*argv: str, stdin: str = "", expect: int | None = 0, profile: Path = basedir) -> str:
        code, out = run_cli(profile, keyring_file, "-v", *argv, stdin=stdin)
        printed[f"output of {' '.join(argv)} #{len(printed)}"] = out.encode()
        if expect is not None:
            assert code == expect, f"{argv}: {code}\n{out}"
        return out

    cli("account", "add", "work", "--email", addr("alice"),
        "--imap", f"127.0.0.1:{mail_servers.dovecot.imap_tls_port}",
        "--smtp", f"127.0.0.1:{mail_servers.postfix.submission_port}", "--smtp-security", "starttls",
        "--ca-file", str(mail_servers.certs.ca_pem), "--password-stdin", stdin=password("alice") + "\n")  # fmt: skip
    out = cli("account", "test", "work")
    assert "logged in" in out
    debug = cli("mailboxes")
    assert "DEBUG" in debug  # -v really logs at DEBUG (so the search below covers the protocol log)
    assert "LOGIN **REDACTED**" in debug  # the LOGIN line is logged, redacted
    cli("sync", "work:INBOX")
    cli("messages", "work:INBOX")
    cli("show", "work:INBOX", "1")
    cli("identity", "add", addr("support"), "--account", "work", "--name", "Support Team", "--mode", "send-as",
        "--mailbox", addr("support"))  # fmt: skip
    cli("send", "--from", addr("support"), "--to", addr("carol"), "--subject", "Secrets test", "--body", "Hello.")
    cli("outbox")
    cli("log")
    # A wrong password: the refusal is a sentence, and the wrong password is not echoed anywhere either.
    cli("account", "add", "bad", "--email", addr("bob"),
        "--imap", f"127.0.0.1:{mail_servers.dovecot.imap_tls_port}",
        "--smtp", f"127.0.0.1:{mail_servers.postfix.submission_port}", "--smtp-security", "starttls",
        "--ca-file", str(mail_servers.certs.ca_pem), "--password-stdin", stdin=WRONG + "\n")  # fmt: skip
    out = cli("account", "test", "bad", expect=None)
    assert "FAILED" in out

    # The window: started on the same profile (syncs the Inbox, IDLE, saves its layout), closed by SIGTERM.
    gui_log = tmp_path / "gui.log"
    gui = start_cli(basedir, keyring_file, "-v", log=gui_log)
    try:
        wait_until(lambda: b"IDLE" in gui_log.read_bytes() or gui.poll() is not None, 60, "the window to be watching")
        assert gui.poll() is None, gui_log.read_text()
    finally:
        gui.send_signal(signal.SIGTERM)
        gui.wait(30)
    printed[gui_log.name] = gui_log.read_bytes()
    assert b"LOGIN **REDACTED**" in printed[gui_log.name]

    # Crash output: a send killed mid-SMTP, and one aborted (Python's fault handler prints its stacks).
    crashdir = tmp_path / "crash-profile"
    with TlsGate(mail_servers.postfix.submissions_port, mail_servers.certs, "after-dot") as gate:
        cli("account", "add", "gated", "--email", addr("alice"),
            "--imap", f"127.0.0.1:{mail_servers.dovecot.imap_tls_port}", "--smtp", f"127.0.0.1:{gate.port}",
            "--smtp-security", "tls", "--ca-file", str(mail_servers.certs.ca_pem), "--password-stdin",
            stdin=password("alice") + "\n", profile=crashdir)  # fmt: skip
        for sig in (signal.SIGABRT, signal.SIGKILL):
            gate.arm("after-dot")
            log = tmp_path / f"crash-{sig.name}.log"
            child = start_cli(crashdir, keyring_file, "-v", "send", "--from", addr("alice"), "--to", addr("carol"),
                              "--subject", "crash", "--body", "x", log=log)  # fmt: skip
            wait_until(lambda: gate.held.is_set() or child.poll() is not None, 60, "the send to reach the dot")
            assert gate.held.is_set(), log.read_text()
            os.kill(child.pid, sig)
            child.wait(10)
            gate.drop()
            printed[log.name] = log.read_bytes()
    assert b"Fatal Python error: Aborted" in printed["crash-SIGABRT.log"]
    assert len(outbox_rows(crashdir)) == 2  # both crashed sends are kept (as uncertain)

    files = {
        str(p.relative_to(tmp_path)): p.read_bytes() for d in (basedir, crashdir) for p in d.rglob("*") if p.is_file()
    }
    assert any(name.endswith("outbox.sqlite") for name in files) and any("settings" in name for name in files), files
    secrets = {addr("alice"): password("alice"), addr("bob"): WRONG}
    leaks = find_leaks({**files, **printed}, secrets)
    assert leaks == [], "\n".join(leaks)
    # The stand-in OS keyring does hold them: the search would have found them.
    assert find_leaks({"keyring": keyring_file.read_bytes()}, secrets)
    assert find_leaks({"probe": b"x AUTH PLAIN " + leak_forms(addr("alice"), password("alice"))["AUTH PLAIN"]}, secrets)

