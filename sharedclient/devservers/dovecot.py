"""A private Dovecot IMAP/LMTP server started by code, for the built-in demo and the real-server tests.

Why a real Dovecot rather than a fake: the hard parts of a shared-mailbox client are exactly what a fake
gets wrong — ACL rights (MYRIGHTS), the shared and public namespaces, SPECIAL-USE only in the personal
namespace, CONDSTORE/QRESYNC, LOGINDISABLED before STARTTLS. The instance is fully private: its own
configuration, base_dir, state_dir, log and free ports on 127.0.0.1; the system Dovecot (if any) is never
touched.

It runs both as root (CI containers) and as a normal user (the desktop demo):

* as a normal user every process runs as that user, login chroots are switched off (chroot needs root);
* as root, ``imap-login`` refuses to run as root, so logins run as the package's ``dovenull``, internal
  services as ``dovecot`` and all mail is stored as the ``mail`` user; the mail directory is owned by
  ``mail``, and the work directory must be searchable by those users (a directory under /tmp is).

Typical use::

    certs = make_certs(workdir / "tls")
    with DovecotInstance(workdir / "dovecot", [MailUser("alice@example.test", "pw")], certs) as dc:
        dc.deliver("alice@example.test", b"Subject: hi\\r\\n\\r\\nhello\\r\\n")
        ...  # IMAP on dc.imap_tls_port (implicit TLS) or dc.imap_port (STARTTLS)
"""

from __future__ import annotations

import atexit
import contextlib
import email.parser
import email.policy
import email.utils
import grp
import os
import pwd
import secrets
import shutil
import signal
import smtplib
import socket
import stat
import string
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import TracebackType

from sharedclient.core.errors import SharedClientError
from sharedclient.devservers.tls import CertFiles

HOST = "127.0.0.1"
#: Dovecot deems a connection "secured" whenever client and server address are equal (127.0.0.1 to
#: 127.0.0.1), and then offers LOGIN before STARTTLS. Connecting to 127.0.0.2 comes from 127.0.0.1, so
#: there Dovecot behaves as towards a remote client (LOGINDISABLED until STARTTLS).
STRICT_HOST = "127.0.0.2"
APT_HINT = "sudo apt-get install dovecot-imapd dovecot-lmtpd"
#: Personal folders every user gets (auto = subscribe) with their SPECIAL-USE flag, as in the template.
BUILTIN_SPECIAL_USE = {
    "Sent": "\\Sent",
    "Drafts": "\\Drafts",
    "Trash": "\\Trash",
    "Junk": "\\Junk",
    "Archive": "\\Archive",
}

#: Where distributions put the helper binaries (imap, lmtp, imap-login...).
_LIBEXEC_CANDIDATES = (Path("/usr/lib/dovecot"), Path("/usr/libexec/dovecot"))
#: Non-root users often lack the sbin directories in PATH.
_EXTRA_BIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")
#: Unix socket paths are limited to 107 bytes; Dovecot's longest name below base_dir is ~25 bytes.
_MAX_BASE_DIR_LEN = 70
#: Services that chroot by default; chroot needs root, so a non-root instance switches it off.
_CHROOTED_SERVICES = (
    "imap-login",
    "imap-urlauth-login",
    "pop3-login",
    "submission-login",
    "anvil",
    "ipc",
    "old-stats",
    "aggregator",
    "director",
)
#: IMAP rights letters (RFC 4314) as doveadm's acl command names them.
_RIGHT_NAMES = {
    "l": "lookup",
    "r": "read",
    "s": "write-seen",
    "w": "write",
    "i": "insert",
    "p": "post",
    "k": "create",
    "x": "delete",
    "t": "write-deleted",
    "e": "expunge",
    "a": "admin",
}
#: Obsolete RFC 2086 letters Dovecot still reports in MYRIGHTS; they imply modern ones.
_LEGACY_RIGHTS = {"c": "kx", "d": "xte"}
#: The one message of Public/Announcements, so the public namespace is never empty.
_WELCOME = (
    b"From: IT Team <it@example.test>\r\n"
    b"To: Everyone <all@example.test>\r\n"
    b"Subject: Welcome to the shared mailboxes\r\n"
    b"Date: Mon, 03 Jun 2024 09:00:00 +0000\r\n"
    b"Message-ID: <welcome@example.test>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"The support@ and sales@ mailboxes are shared with their teams.\r\n"
    b"Reply from the shared address so customers keep one thread.\r\n"
)


class DovecotUnavailable(SharedClientError):
    """Dovecot is not installed, or the private instance could not start."""


class DovecotCommandError(SharedClientError):
    """A ``doveadm`` command or an LMTP delivery against the private instance failed."""


@dataclass(frozen=True)
class MailUser:
    """One account of the private server; ``login`` is the full address (``alice@example.test``)."""

    login: str
    password: str

    def __post_init__(self) -> None:
        # passwd-file is colon separated, one entry per line.
        for value, what in ((self.login, "login"), (self.password, "password")):
            if not value or any(ch in value for ch in ":\r\n\0"):
                raise ValueError(f"MailUser {what} must be non-empty without ':' or line breaks: {value!r}")
        if "@" not in self.login or any(ch.isspace() for ch in self.login):
            raise ValueError(f"MailUser login must be a full address without spaces: {self.login!r}")


@dataclass(frozen=True)
class _RunAs:
    """Which system users the instance's processes run as."""

    internal_user: str
    internal_group: str
    login_user: str
    mail_uid: int
    mail_gid: int
    as_root: bool


class DovecotInstance:
    """A private Dovecot serving IMAP (implicit TLS and STARTTLS), LMTP and a SASL socket for Postfix.

    Ports are picked when the object is created; if another process takes one before Dovecot binds it,
    :meth:`start` picks new ones, so read the port attributes after :meth:`start`. Attributes:

    * ``host`` — always ``127.0.0.1``;
    * ``imap_tls_port`` — IMAP with implicit TLS;
    * ``imap_port`` — IMAP offering STARTTLS. On ``host`` Dovecot treats the loopback client as secured
      and allows LOGIN before STARTTLS; on ``strict_host`` it advertises LOGINDISABLED until TLS is up;
    * ``strict_host`` — ``127.0.0.2`` where both IMAP ports also listen (``None`` where that loopback
      address is unusable, e.g. macOS); the certificate covers it;
    * ``lmtp_port`` — LMTP over TCP (no authentication; loopback only);
    * ``auth_socket`` — unix socket for ``smtpd_sasl_type = dovecot``; usable by Postfix's ``smtpd``;
    * ``config_path``, ``log_path``, ``mail_root`` (home directories), ``public_dir`` (Public/ maildir).

    Sharing follows Dovecot's ACL plugin: ``set_acl(owner, "INBOX", "user=alice@x", "lrs")`` makes the
    mailbox appear to alice as ``shared/<owner>/INBOX``.
    """

    def __init__(self, workdir: Path, users: Sequence[MailUser], certs: CertFiles) -> None:
        self.workdir = Path(workdir).absolute()
        self.users: dict[str, MailUser] = {}
        for user in users:
            key = user.login.lower()
            if key in self.users:
                raise ValueError(f"duplicate mail user {user.login}")
            self.users[key] = user
        self.certs = certs
        self.host = HOST
        self.imap_tls_port = self.imap_port = self.lmtp_port = 0
        self.strict_host: str | None = None
        self._pick_ports()

        self.config_path = self.workdir / "dovecot.conf"
        self.passwd_path = self.workdir / "passwd"
        self.log_path = self.workdir / "dovecot.log"
        self.stderr_path = self.workdir / "dovecot.stderr.log"
        self.state_dir = self.workdir / "state"
        self.vmail_dir = self.workdir / "vmail"
        self.mail_root = self.vmail_dir / "users"
        self.public_dir = self.vmail_dir / "public"
        self.shared_dict_path = self.vmail_dir / "shared-mailboxes.db"
        self._own_base_dir: Path | None = None  # a short temp base_dir we must remove ourselves
        self.base_dir = self.workdir / "run"
        if len(str(self.base_dir)) > _MAX_BASE_DIR_LEN:
            self._own_base_dir = Path(tempfile.mkdtemp(prefix="scdovecot-"))
            self._own_base_dir.chmod(0o755)  # Dovecot wants base_dir world-readable (it fixes it and warns)
            self.base_dir = self._own_base_dir
        self.auth_socket = self.base_dir / "auth-postfix"
        self._instance_name = f"sharedclient-{secrets.token_hex(4)}"  # names the processes in ps
        self._extra_special_use: dict[str, str] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._run_as: _RunAs | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 15) -> None:
        """Write the configuration, start Dovecot in the foreground as a child, wait until it serves.

        Raises :class:`DovecotUnavailable` when Dovecot is missing or does not come up in ``timeout``
        seconds (the message quotes the end of Dovecot's log).
        """
        if self._process is not None:
            raise RuntimeError("this Dovecot instance is already running")
        dovecot = find_binary("dovecot")
        if dovecot is None or find_binary("doveadm") is None:
            raise DovecotUnavailable(f"Dovecot is not installed; install it with: {APT_HINT}")
        _check_helper_binaries()
        self._run_as = _pick_run_as()
        self._prepare_directories()
        self._write_passwd()
        atexit.register(self.stop)
        for attempt in range(3):
            self._write_config()
            clashes_before = self._count_log("Address already in use")
            self._launch(dovecot)
            try:
                self._wait_ready(timeout)
                return
            except DovecotUnavailable:
                self._terminate()
                # Another process may grab a port between picking and binding: pick new ones and retry.
                if attempt < 2 and self._count_log("Address already in use") > clashes_before:
                    self._pick_ports()
                    continue
                self.stop()
                raise
            except BaseException:
                self.stop()
                raise

    def stop(self, timeout: float = 10) -> None:
        """Stop Dovecot and its children (idempotent; also registered with atexit)."""
        atexit.unregister(self.stop)
        self._terminate(timeout)
        if self._own_base_dir is not None:
            shutil.rmtree(self._own_base_dir, ignore_errors=True)

    def _launch(self, dovecot: str) -> None:
        with open(self.stderr_path, "ab") as err:
            self._process = subprocess.Popen(
                [dovecot, "-F", "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
                start_new_session=True,  # Ctrl-C in a terminal reaches us, and we stop Dovecot cleanly
            )

    def _terminate(self, timeout: float = 10) -> None:
        """SIGTERM to the master, which stops its children (takes about a second: it drains its log)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout)

    def _pick_ports(self) -> None:
        """Free ports on 127.0.0.1; the two IMAP ports also free on STRICT_HOST when that is usable."""
        self.imap_tls_port, self.imap_port, self.lmtp_port = free_ports(3)
        self.strict_host = None
        for _ in range(5):
            if _ports_free(STRICT_HOST, [self.imap_tls_port, self.imap_port]):
                self.strict_host = STRICT_HOST
                return
            self.imap_tls_port, self.imap_port, self.lmtp_port = free_ports(3)

    @property
    def mail_uid(self) -> int:
        """The uid owning all mail (``mail`` when root, else the current user); Postfix's sink uses it."""
        return self._require_run_as().mail_uid

    @property
    def mail_gid(self) -> int:
        return self._require_run_as().mail_gid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> DovecotInstance:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ administration

    def doveadm(self, *args: str, input: bytes | None = None, timeout: float = 60) -> str:
        """Run ``doveadm -c <our config> ARGS`` and return its stdout; raise DovecotCommandError on failure."""
        doveadm = find_binary("doveadm")
        if doveadm is None:
            raise DovecotUnavailable(f"doveadm is not installed; install it with: {APT_HINT}")
        result = subprocess.run(
            [doveadm, "-c", str(self.config_path), *args],
            input=input,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).decode(errors="replace").strip()
            raise DovecotCommandError(f"doveadm {' '.join(args)} failed ({result.returncode}): {detail}")
        return result.stdout.decode(errors="replace")

    def add_user(self, user: MailUser, timeout: float = 5) -> None:
        """Add an account; when running, return once Dovecot's auth knows it.

        Dovecot re-reads a changed passwd-file on the next lookup, but checks it at most about once a
        second, so this polls ``doveadm user`` rather than letting the first login fail.
        """
        key = user.login.lower()
        if key in self.users:
            raise ValueError(f"duplicate mail user {user.login}")
        self.users[key] = user
        if self._run_as is None:
            return
        self._write_passwd()
        if not self.running:
            return
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.doveadm("user", user.login)
                return
            except DovecotCommandError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def create_mailbox(self, login: str, name: str, special_use: str | None = None) -> None:
        """Create (and subscribe) mailbox ``name`` of ``login``; an existing mailbox is left alone.

        Dovecot takes SPECIAL-USE flags only from its configuration, never from CREATE, so a
        ``special_use`` adds a ``mailbox`` block to the personal namespace (the flag then shows for every
        user who has a mailbox of that name; nobody else gets one created) and reloads the configuration.
        """
        if special_use is not None:
            flag = special_use if special_use.startswith("\\") else "\\" + special_use
            current = self._extra_special_use.get(name, BUILTIN_SPECIAL_USE.get(name))
            if current != flag:
                self._extra_special_use[name] = flag
                self._write_config()
                if self.running:
                    self._reload()
        try:
            self.doveadm("mailbox", "create", "-s", "-u", login, name)
        except DovecotCommandError as exc:
            if "already exists" not in str(exc).lower():
                raise

    def set_acl(self, owner_login: str, mailbox: str, identifier: str, rights: str) -> None:
        """Grant ``rights`` (IMAP letters, e.g. ``"lrs"``) on ``owner_login``'s ``mailbox``.

        ``identifier`` is a Dovecot ACL identifier (``user=bob@x``, ``anyone``, ``authenticated``...); a
        bare address is taken as ``user=<address>``. Empty rights remove the entry. The owner keeps its
        implicit full rights. Dovecot updates the shared-mailbox dictionary itself, so the mailbox shows
        up in the grantee's LIST under ``shared/<owner>/`` right away.
        """
        if "=" not in identifier and "@" in identifier:
            identifier = f"user={identifier}"
        names = rights_to_names(rights)
        if not names:
            self.doveadm("acl", "delete", "-u", owner_login, mailbox, identifier)
        else:
            self.doveadm("acl", "set", "-u", owner_login, mailbox, identifier, *names)

    def deliver(
        self, login: str, message: bytes, mailbox: str = "INBOX", *, envelope_from: str | None = None
    ) -> None:
        """Deliver one message to ``login``'s ``mailbox`` (see :meth:`deliver_many`)."""
        self.deliver_many(login, [message], mailbox, envelope_from=envelope_from)

    def deliver_many(
        self,
        login: str,
        messages: Iterable[bytes],
        mailbox: str = "INBOX",
        *,
        envelope_from: str | None = None,
    ) -> None:
        """Put messages into ``login``'s ``mailbox`` without going through Postfix.

        INBOX: one LMTP session for all messages (~250 messages/s), delivered like mail from outside,
        with ``Return-Path`` (``envelope_from``, default the From address) and ``Delivered-To`` added.
        Another mailbox: ``doveadm save`` per message (~40/s), stored as given. Both are subject to
        the owner's rights only, not to ACLs granted to others.
        """
        if mailbox.upper() == "INBOX":
            with smtplib.LMTP(self.host, self.lmtp_port, timeout=30) as lmtp:
                for message in messages:
                    sender = envelope_from if envelope_from is not None else _from_address(message)
                    try:
                        lmtp.sendmail(sender, [login], message)
                    except smtplib.SMTPException as exc:
                        raise DovecotCommandError(f"LMTP delivery to {login} failed: {exc}") from exc
        else:
            for message in messages:
                self.doveadm("save", "-u", login, "-m", mailbox, input=message)

    # ------------------------------------------------------------------ internals

    def _prepare_directories(self) -> None:
        run_as = self._require_run_as()
        self.workdir.mkdir(parents=True, exist_ok=True)
        for path in (self.state_dir, self.base_dir, self.vmail_dir, self.mail_root, self.public_dir):
            path.mkdir(parents=True, exist_ok=True)
        announcements = self.public_dir / "Announcements"
        for sub in ("cur", "new", "tmp"):
            (announcements / sub).mkdir(parents=True, exist_ok=True)
        # Everybody signed in may read the announcements; nobody may change them over IMAP.
        (announcements / "dovecot-acl").write_text("authenticated lrs\n")
        if not any((announcements / "new").iterdir()) and not any((announcements / "cur").iterdir()):
            # Nobody has the insert right, so the welcome note is placed the maildir way: a file in new/.
            (announcements / "new" / f"{int(time.time())}.welcome.sharedclient").write_bytes(_WELCOME)
        if run_as.as_root:
            # Processes other than root must reach their files: the mail user its mail, dovecot the
            # passwd-file, postfix the auth socket. Own directories are opened up; parents are checked.
            os.chmod(self.workdir, 0o755)
            os.chmod(self.base_dir, 0o755)
            for path in _walk(self.vmail_dir):
                os.chown(path, run_as.mail_uid, run_as.mail_gid)
            for name, uid, gid in _users_needing_access(run_as):
                for directory in (self.workdir, self.base_dir, self.vmail_dir):
                    _require_searchable(directory, name, uid, gid)

    def _write_passwd(self) -> None:
        run_as = self._require_run_as()
        lines = [
            # uid/gid in every entry, not only mail_uid: imap processes look up *other* users' homes for
            # the shared namespace, and Dovecot's auth only answers them for entries with their own uid.
            f"{user.login}:{{PLAIN}}{user.password}:{run_as.mail_uid}:{run_as.mail_gid}::"
            f"{self.mail_root / user.login.lower()}::\n"
            for user in self.users.values()
        ]
        tmp = self.passwd_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.writelines(lines)
        if run_as.as_root:  # the auth process runs as the internal user and reads it
            os.chown(tmp, 0, grp.getgrnam(run_as.internal_group).gr_gid)
            os.chmod(tmp, 0o640)
        os.replace(tmp, self.passwd_path)

    def _write_config(self) -> None:
        run_as = self._require_run_as()
        if run_as.as_root and _user_exists("postfix"):
            socket_mode, socket_owner = "0660", "    user = postfix\n    group = postfix\n"
        else:
            socket_mode, socket_owner = "0600" if not run_as.as_root else "0666", ""
        overrides = ""
        if not run_as.as_root:
            overrides = "".join(f"service {name} {{\n  chroot =\n}}\n" for name in _CHROOTED_SERVICES)
        # A repeated mailbox block merges with the template's; only new names need "auto = no".
        extra = "".join(
            f"  mailbox {_quote(name)} {{\n    special_use = {flag}\n"
            + ("" if name in BUILTIN_SPECIAL_USE else "    auto = no\n")
            + "  }\n"
            for name, flag in self._extra_special_use.items()
        )
        template = string.Template(
            resources.files("sharedclient.devservers").joinpath("templates/dovecot.conf.tmpl").read_text()
        )
        text = template.substitute(
            instance_name=self._instance_name,
            base_dir=self.base_dir,
            state_dir=self.state_dir,
            log_path=self.log_path,
            internal_user=run_as.internal_user,
            internal_group=run_as.internal_group,
            login_user=run_as.login_user,
            mail_uid=run_as.mail_uid,
            mail_gid=run_as.mail_gid,
            cert_pem=self.certs.cert_pem,
            key_pem=self.certs.key_pem,
            passwd_file=self.passwd_path,
            public_dir=self.public_dir,
            shared_dict=self.shared_dict_path,
            imap_addresses=", ".join(a for a in (self.host, self.strict_host) if a),
            imap_port=self.imap_port,
            imap_tls_port=self.imap_tls_port,
            lmtp_port=self.lmtp_port,
            auth_socket_name=self.auth_socket.name,
            auth_socket_mode=socket_mode,
            auth_socket_owner=socket_owner,
            extra_special_use=extra,
            service_overrides=overrides,
        )
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.config_path)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = [self.imap_tls_port, self.imap_port, self.lmtp_port]
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                raise DovecotUnavailable(
                    f"Dovecot exited during startup (status {self._process.returncode}). "
                    f"Log ({self.log_path}):\n{self.log_tail()}"
                )
            pending = [port for port in pending if not port_open(self.host, port)]
            if not pending and self.auth_socket.exists():
                return
            if time.monotonic() > deadline:
                raise DovecotUnavailable(
                    f"Dovecot did not start within {timeout:g} s (ports not listening: {pending}). "
                    f"Log ({self.log_path}):\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def _reload(self) -> None:
        """Make the master re-read the configuration; new sessions see it once the reload is logged."""
        before = self._count_log("reloading configuration")
        self.doveadm("reload")
        deadline = time.monotonic() + 10
        while self._count_log("reloading configuration") <= before and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.1)  # the config process is restarted just after the log line

    def _count_log(self, needle: str) -> int:
        try:
            return self.log_path.read_text(errors="replace").count(needle)
        except FileNotFoundError:
            return 0

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of Dovecot's log and of its stderr (config errors land there)."""
        chunks = []
        for path in (self.log_path, self.stderr_path):
            try:
                text = path.read_text(errors="replace")
            except FileNotFoundError:
                continue
            if text.strip():
                chunks.append("\n".join(text.rstrip().splitlines()[-lines:]))
        return "\n".join(chunks) or "(the log is empty)"

    def _require_run_as(self) -> _RunAs:
        if self._run_as is None:
            self._run_as = _pick_run_as()
        return self._run_as


# ---------------------------------------------------------------------- helpers


def rights_to_names(rights: str) -> list[str]:
    """IMAP rights letters to doveadm's names; obsolete ``c``/``d`` are expanded, duplicates dropped."""
    letters: list[str] = []
    for letter in rights:
        for expanded in _LEGACY_RIGHTS.get(letter, letter):
            if expanded not in _RIGHT_NAMES:
                raise ValueError(f"unknown IMAP right {letter!r} in {rights!r}")
            if expanded not in letters:
                letters.append(expanded)
    return [_RIGHT_NAMES[letter] for letter in letters]


def free_ports(count: int, host: str = HOST) -> list[int]:
    """``count`` distinct TCP ports free on ``host`` right now (all held open together, then released)."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(sock.getsockname()[1])
        return ports


def _ports_free(host: str, ports: Sequence[int]) -> bool:
    """True when every port in ``ports`` can be bound on ``host`` (False also when ``host`` is unusable)."""
    with contextlib.ExitStack() as stack:
        for port in ports:
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            try:
                sock.bind((host, port))
            except OSError:
                return False
    return True


def find_binary(name: str) -> str | None:
    """``shutil.which`` that also looks in the sbin directories a normal user's PATH usually lacks."""
    found = shutil.which(name)
    if found:
        return found
    return shutil.which(name, path=os.pathsep.join(_EXTRA_BIN_DIRS))


def _check_helper_binaries() -> None:
    for libexec in _LIBEXEC_CANDIDATES:
        if (libexec / "imap-login").exists() or (libexec / "config").exists():
            missing = [name for name in ("imap", "imap-login", "lmtp") if not (libexec / name).exists()]
            if missing:
                raise DovecotUnavailable(
                    f"Dovecot is installed without {', '.join(missing)} ({libexec}); "
                    f"install it with: {APT_HINT}"
                )
            return


def _pick_run_as() -> _RunAs:
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        group = grp.getgrgid(os.getegid()).gr_name
        return _RunAs(me.pw_name, group, me.pw_name, os.geteuid(), os.getegid(), as_root=False)
    try:
        internal = pwd.getpwnam("dovecot")
        pwd.getpwnam("dovenull")
        mail = pwd.getpwnam("mail")
    except KeyError as exc:
        raise DovecotUnavailable(
            f"The system user {exc.args[0].split(':')[-1].strip()} that Dovecot runs as is missing; "
            f"reinstall Dovecot: {APT_HINT}"
        ) from exc
    return _RunAs(
        internal_user=internal.pw_name,
        internal_group=grp.getgrgid(internal.pw_gid).gr_name,
        login_user="dovenull",
        mail_uid=mail.pw_uid,
        mail_gid=mail.pw_gid,
        as_root=True,
    )


def _users_needing_access(run_as: _RunAs) -> Iterator[tuple[str, int, int]]:
    for name in (run_as.internal_user, "mail", "postfix"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            yield name, entry.pw_uid, entry.pw_gid


def _require_searchable(directory: Path, user: str, uid: int, gid: int) -> None:
    """Raise when ``user`` cannot reach ``directory`` (each parent needs the x bit for them)."""
    groups = {gid} | {g.gr_gid for g in grp.getgrall() if user in g.gr_mem}
    for path in [directory, *directory.parents]:
        st = path.stat()
        if st.st_uid == uid:
            ok = bool(st.st_mode & stat.S_IXUSR)
        elif st.st_gid in groups:
            ok = bool(st.st_mode & stat.S_IXGRP)
        else:
            ok = bool(st.st_mode & stat.S_IXOTH)
        if not ok:
            raise DovecotUnavailable(
                f"The system user {user} cannot enter {path}, so the private Dovecot run as root cannot "
                f"use {directory}; choose a work directory under a world-searchable directory such as /tmp."
            )


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _walk(root: Path) -> Iterator[Path]:
    yield root
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            yield Path(dirpath) / name


def port_open(host: str, port: int) -> bool:
    """True when something accepts TCP connections on ``host:port`` (the probe socket is closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _from_address(message: bytes) -> str:
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(message)
    addresses = email.utils.getaddresses(headers.get_all("From", []))
    return addresses[0][1] if addresses else ""


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
