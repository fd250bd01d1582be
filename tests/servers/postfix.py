"""A private Postfix submission server for the real-server tests.

Why real Postfix: "may alice send as support@?" is decided by the submission server
(``smtpd_sender_login_maps`` + ``reject_sender_login_mismatch``), and the client must understand the real
replies (``553 5.7.1 ... Sender address rejected: not owned by user ...``, DSN, STARTTLS/AUTH order).

The instance is its own Postfix (``postfix -c <workdir>/etc``): own main.cf/master.cf (generated from
``templates/``), queue_directory, data_directory and log file; only submission ports on 127.0.0.1. The
system Postfix configuration is never read or written. Postfix can only run as root; otherwise
:class:`PostfixUnavailable` is raised.
"""

from __future__ import annotations

import atexit
import os
import pwd
import string
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from sharedclient.core.errors import SharedClientError
from sharedclient.devservers.dovecot import HOST, DovecotInstance, find_binary, free_ports, port_open
from sharedclient.devservers.tls import CertFiles

APT_HINT = "sudo apt-get install postfix"
_TEMPLATES = Path(__file__).with_name("templates")
_QUEUES = ("maildrop", "incoming", "active", "deferred", "hold")


class PostfixUnavailable(SharedClientError):
    """Postfix is not installed, we are not root, or the private instance did not start."""


class PostfixInstance:
    """A private Postfix: submission with STARTTLS and with implicit TLS, delivering into Dovecot.

    Attributes: ``host`` (127.0.0.1), ``submission_port`` (STARTTLS required before anything,
    ``smtpd_tls_security_level = encrypt``), ``submissions_port`` (implicit TLS, wrapper mode),
    ``sink_login``, ``config_dir``, ``queue_dir``, ``log_path``.

    Authentication goes to Dovecot's auth socket (same users and passwords as IMAP). Senders: an
    authenticated login may use exactly the envelope addresses ``sender_logins`` grants it
    (address -> logins); anything else is refused at RCPT TO with
    ``553 5.7.1 <addr>: Sender address rejected: not owned by user <login>``.

    Delivery:

    * ``local_domain`` recipients go to Dovecot over LMTP (Return-Path and Delivered-To added by Dovecot);
      unknown local addresses are refused at RCPT TO (550 5.1.1). Exception: ``gone_address``
      (``former@<local_domain>``) is in Postfix's table but not in Dovecot, like a colleague whose mailbox
      was removed while the directory still lists them: Postfix accepts it, LMTP refuses it with 550 5.1.1,
      and Postfix bounces (an RFC 3464 report to the envelope sender).
    * Every other domain goes to the **sink**: no SMTP client exists in master.cf, so nothing can leave
      the machine. The ``sink`` transport is Postfix's ``virtual(8)`` writing straight into the Dovecot
      INBOX of ``sink_login`` (default ``sink@<local_domain>``, which must be a Dovecot user) without
      rewriting the envelope: the message keeps ``X-Original-To: <original recipient>``,
      ``Delivered-To: <recipient>`` and ``Return-Path: <envelope sender>``. Tests read the sink over
      IMAP like any mailbox. ``postmaster@``/``abuse@`` of the local domain are aliased to the sink too.
    * DSN is advertised in EHLO; ``NOTIFY=SUCCESS`` yields a ``multipart/report`` to the envelope sender
      (Dovecot's LMTP does not speak DSN, so Postfix reports local deliveries as "relayed"; sink
      deliveries as "delivered").
    """

    def __init__(
        self,
        workdir: Path,
        dovecot: DovecotInstance,
        certs: CertFiles,
        local_domain: str,
        sender_logins: Mapping[str, Sequence[str]],
        *,
        sink_login: str | None = None,
    ) -> None:
        self.workdir = Path(workdir).absolute()
        self.dovecot = dovecot
        self.certs = certs
        self.local_domain = local_domain.lower()
        self.sender_logins = {addr.lower(): list(logins) for addr, logins in sender_logins.items()}
        self.sink_login = (sink_login or f"sink@{self.local_domain}").lower()
        self.gone_address = f"former@{self.local_domain}"
        if self.sink_login not in dovecot.users:
            raise ValueError(f"the sink {self.sink_login} must be a user of the Dovecot instance")
        self.host = HOST
        self.submission_port, self.submissions_port = free_ports(2)
        self.config_dir = self.workdir / "etc"
        self.queue_dir = self.workdir / "queue"
        self.data_dir = self.workdir / "data"
        self.log_path = self.workdir / "postfix.log"
        self._running = False

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 30) -> None:
        """Write configuration and maps, ``postfix -c DIR start``, wait until both ports listen."""
        if self._running:
            raise RuntimeError("this Postfix instance is already running")
        postfix = _postfix_binary()
        if os.geteuid() != 0:
            raise PostfixUnavailable(
                "Postfix can only run as root; the submission tests need root (as in CI containers)."
            )
        try:
            pwd.getpwnam("postfix")
        except KeyError:
            raise PostfixUnavailable(f"The system user postfix is missing; reinstall: {APT_HINT}") from None
        # The sink's INBOX directory must exist before virtual(8) first writes into it as the mail user.
        self.dovecot.doveadm("mailbox", "status", "-u", self.sink_login, "messages", "INBOX")
        for attempt in range(3):
            self._write_config()
            clashes_before = self.log_tail(10_000).count("Address already in use")
            result = self._postfix(postfix, "start", check=False)
            if result.returncode == 0:
                break
            # Another process may take a port between picking and binding: pick new ones and retry.
            if attempt < 2 and self.log_tail(10_000).count("Address already in use") > clashes_before:
                self.submission_port, self.submissions_port = free_ports(2)
                continue
            raise PostfixUnavailable(
                f"Postfix did not start ({result.returncode}): {(result.stderr or result.stdout).strip()}\n"
                f"Log ({self.log_path}):\n{self.log_tail()}"
            )
        self._running = True
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        while not all(port_open(self.host, p) for p in (self.submission_port, self.submissions_port)):
            if time.monotonic() > deadline:
                self.stop()
                raise PostfixUnavailable(
                    f"Postfix did not listen within {timeout:g} s. Log ({self.log_path}):\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """``postfix -c DIR stop`` (idempotent; also registered with atexit in case a test run aborts)."""
        atexit.unregister(self.stop)
        if not self._running:
            return
        self._running = False
        postfix = find_binary("postfix")
        if postfix is not None:
            self._postfix(postfix, "stop", check=False)

    def __enter__(self) -> PostfixInstance:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ helpers for tests

    def set_sender_logins(self, sender_logins: Mapping[str, Sequence[str]]) -> None:
        """Replace the address -> logins table (and pick up new Dovecot users); reloads Postfix."""
        self.sender_logins = {addr.lower(): list(logins) for addr, logins in sender_logins.items()}
        self._write_maps()
        if self._running:
            postfix = _postfix_binary()
            self._postfix(postfix, "reload")

    def queued(self) -> int:
        """Messages not yet delivered (or deferred) in this instance's queue."""
        return sum(len(files) for queue in _QUEUES for _, _, files in os.walk(self.queue_dir / queue))

    def wait_idle(self, timeout: float = 15) -> None:
        """Block until the queue is empty; raise AssertionError with the log tail if it does not drain."""
        deadline = time.monotonic() + timeout
        while self.queued():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"Postfix queue still holds {self.queued()} message(s) after {timeout:g} s:\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.05)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log yet)"
        return "\n".join(text.rstrip().splitlines()[-lines:]) or "(the log is empty)"

    # ------------------------------------------------------------------ internals

    def _postfix(self, postfix: str, command: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [postfix, "-c", str(self.config_dir), command],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if check and result.returncode != 0:
            raise PostfixUnavailable(f"postfix {command} failed: {result.stderr.strip() or result.stdout.strip()}")
        return result

    def _write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_dir.mkdir(exist_ok=True)
        self.queue_dir.mkdir(exist_ok=True)  # root-owned; Postfix creates the rest (post-install create-missing)
        # Postfix daemons run as "postfix" and the sink as the mail user: both must reach their files.
        os.chmod(self.workdir, 0o755)
        os.chmod(self.config_dir, 0o755)
        os.chmod(self.queue_dir, 0o755)
        self.log_path.touch()
        values = {
            "queue_dir": self.queue_dir,
            "data_dir": self.data_dir,
            "config_dir": self.config_dir,
            "workdir": self.workdir,
            "log_file": self.log_path,
            "domain": self.local_domain,
            "lmtp_port": self.dovecot.lmtp_port,
            "mail_root": self.dovecot.mail_root,
            "mail_uid": self.dovecot.mail_uid,
            "mail_gid": self.dovecot.mail_gid,
            "cert_pem": self.certs.cert_pem,
            "key_pem": self.certs.key_pem,
            "auth_socket": self.dovecot.auth_socket,
            "submission_port": self.submission_port,
            "submissions_port": self.submissions_port,
            "sink_maildir": f"{self.sink_login}/Maildir/INBOX/",
        }
        for name in ("main.cf", "master.cf"):
            template = string.Template((_TEMPLATES / f"{name}.tmpl").read_text())
            _write_root_file(self.config_dir / name, template.substitute(values))
        self._write_maps()

    def _write_maps(self) -> None:
        """texthash maps: read at process start, no postmap step, no Berkeley DB files."""
        local = [login for login in self.dovecot.users if login.endswith("@" + self.local_domain)]
        local.append(self.gone_address)
        _write_root_file(
            self.config_dir / "virtual_mailboxes",
            "".join(f"{login} {login}/Maildir/INBOX/\n" for login in sorted(local)),
        )
        _write_root_file(
            self.config_dir / "virtual_aliases",
            "".join(f"{name}@{self.local_domain} {self.sink_login}\n" for name in ("postmaster", "abuse")),
        )
        _write_root_file(
            self.config_dir / "sender_logins",
            "".join(
                f"{addr} {', '.join(logins)}\n" for addr, logins in sorted(self.sender_logins.items()) if logins
            ),
        )


def _postfix_binary() -> str:
    postfix = find_binary("postfix")
    if postfix is None:
        raise PostfixUnavailable(f"Postfix is not installed; install it with: {APT_HINT}")
    return postfix


def _write_root_file(path: Path, text: str) -> None:
    """Postfix insists that its configuration is owned by root and not group/world writable."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)

