"""A local SMTP submission server for ``sharedclient demo`` (the test suite uses real Postfix).

It mirrors how our test Postfix is configured, so the client meets the same replies in the demo as in
production-like tests:

* STARTTLS is required before anything but EHLO/NOOP/QUIT (or the listener speaks implicit TLS, like
  port 465), AUTH PLAIN/LOGIN is offered only under TLS and checked against ``users``; ``MAIL FROM``
  is refused until authenticated (``530 5.7.0``).
* Sender permission works like Postfix ``smtpd_sender_login_maps`` + ``reject_sender_login_mismatch``:
  the envelope sender must list the authenticated login as an owner, otherwise every ``RCPT TO`` is
  refused with Postfix's own text ``553 5.7.1 <sender>: Sender address rejected: not owned by user
  <login>`` (Postfix quotes the *sender* address there, not the recipient).
* DSN (RFC 3461) is advertised and ``RET``/``ENVID``/``NOTIFY``/``ORCPT`` are accepted (syntax-checked,
  kept with their original case in ``envelope.mail_options``/``rcpt_options``). No DSN is ever generated.
* Mail never leaves the machine. Recipients in ``local_domain`` are delivered to themselves; every other
  recipient is rewritten to ``sink@<local_domain>`` (deduplicated), so replies to demo "customers" land in
  a mailbox you can open. Delivery is the ``deliver(envelope_from, recipients, data)`` callable, usually
  :func:`lmtp_deliverer` into the demo's Dovecot; the message bytes are passed on untouched (LMTP delivery
  adds ``Return-Path``/``Delivered-To``, as after Postfix). If ``deliver`` raises, the client gets
  ``451 4.3.0`` (try again later) and the failure is logged.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import logging
import re
import smtplib
import socket
import ssl
import weakref
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session, syntax

from sharedclient.core.errors import NetworkError, TlsError

__all__ = ["Deliver", "SubmissionServer", "lmtp_deliverer"]

log = logging.getLogger(__name__)

Deliver = Callable[[str, list[str], bytes], None]
"""``deliver(envelope_from, recipients, data)``; raise to make the client retry later (451)."""

_SHUTDOWN_TIMEOUT = 5.0
_MAIL_DSN_KEYS = frozenset({"RET", "ENVID"})
_RCPT_DSN_KEYS = frozenset({"NOTIFY", "ORCPT"})
# RFC 3461 §4: xtext = any of "!".."~" except "+" and "=", or "+" followed by two upper-case hex digits.
_XTEXT = re.compile(r"(?:[!-*,-<>-~]|\+[0-9A-F]{2})+\Z")
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+\Z")


# --------------------------------------------------------------------------------------------------
# DSN parameters: aiosmtpd 1.4 answers "555 ... not recognized" for any MAIL/RCPT parameter it does not
# know *before* calling the handler hooks, and upper-cases the rest (ENVID is case-sensitive). So the
# protocol subclass takes the DSN parameters out of the command line first and re-attaches them after.


def _take_params(arg: str, keys: frozenset[str]) -> tuple[str, list[str]]:
    """Split ``FROM:<a@b> RET=HDRS SIZE=9`` into (``FROM:<a@b> SIZE=9``, ``["RET=HDRS"]``)."""
    cut = arg.rfind(">") + 1
    if cut == 0:  # address without angle brackets ("FROM:a@b"), which aiosmtpd tolerates
        m = re.match(r"\s*\S+:\s*\S+", arg)
        cut = m.end() if m else len(arg)
    kept: list[str] = []
    taken: list[str] = []
    for token in arg[cut:].split():
        (taken if token.partition("=")[0].upper() in keys else kept).append(token)
    return " ".join([arg[:cut], *kept]), taken


def _dsn_syntax_error(params: Sequence[str]) -> str | None:
    """Return the 501 reply for malformed or repeated DSN parameters, None when all are fine."""
    seen: set[str] = set()
    for param in params:
        key, _, value = param.partition("=")
        key = key.upper()
        if key in seen:
            return f"501 5.5.4 Duplicate {key} parameter"
        seen.add(key)
        if key == "RET":
            ok = value.upper() in {"FULL", "HDRS"}
        elif key == "ENVID":
            ok = len(value) <= 100 and bool(_XTEXT.match(value))
        elif key == "NOTIFY":
            words = value.upper().split(",")
            ok = words == ["NEVER"] or (
                len(set(words)) == len(words) and set(words) <= {"SUCCESS", "FAILURE", "DELAY"}
            )
        else:  # ORCPT=addr-type;xtext
            addr_type, semi, addr = value.partition(";")
            ok = bool(semi and _ATOM.match(addr_type) and _XTEXT.match(addr)) and len(addr) <= 500
        if not ok:
            return f"501 5.5.4 Bad {key} parameter syntax"
    return None


class _SubmissionSMTP(SMTP):
    """aiosmtpd's protocol plus DSN parameters; one instance per connection."""

    @syntax("MAIL FROM: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_MAIL(self, arg: str | None) -> None:
        assert self.envelope is not None
        rest, dsn = self._dsn_split(arg, _MAIL_DSN_KEYS)
        if dsn and (error := _dsn_syntax_error(dsn)):
            await self.push(error)
            return
        had_sender = bool(self.envelope.mail_from)
        await super().smtp_MAIL(rest)
        if dsn and not had_sender and self.envelope.mail_from:
            self.envelope.mail_options.extend(dsn)

    @syntax("RCPT TO: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_RCPT(self, arg: str | None) -> None:
        assert self.envelope is not None
        rest, dsn = self._dsn_split(arg, _RCPT_DSN_KEYS)
        if dsn and (error := _dsn_syntax_error(dsn)):
            await self.push(error)
            return
        before = len(self.envelope.rcpt_tos)
        await super().smtp_RCPT(rest)
        if dsn and len(self.envelope.rcpt_tos) > before:
            self.envelope.rcpt_options.extend(dsn)

    def _dsn_split(self, arg: str | None, keys: frozenset[str]) -> tuple[str | None, list[str]]:
        # Without EHLO there are no extensions: leave the line alone so aiosmtpd answers 501.
        if arg is None or self.session is None or not self.session.extended_smtp:
            return arg, []
        return _take_params(arg, keys)


# --------------------------------------------------------------------------------------------------
# Policy: authentication, sender ownership, routing, delivery. Hook names follow aiosmtpd's handler API.


class _Handler:
    def __init__(
        self,
        users: Mapping[str, str],
        sender_logins: Mapping[str, Sequence[str]],
        local_domain: str,
        deliver: Deliver,
        executor: ThreadPoolExecutor,
        local_recipients: Collection[str] | None,
    ) -> None:
        self._users = dict(users)
        # Postfix hash tables fold keys to lower case; "@domain" keys are the catch-all, as in Postfix.
        self._owners = {addr.lower(): {login.lower() for login in logins} for addr, logins in sender_logins.items()}
        self._local_domain = local_domain.lower()
        self._deliver = deliver
        self._executor = executor
        self._local_recipients = None if local_recipients is None else {r.lower() for r in local_recipients}

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        """aiosmtpd ``authenticator``: constant-time password check; the login becomes ``session.auth_data``."""
        if isinstance(auth_data, LoginPassword):
            try:
                login = auth_data.login.decode("utf-8")
            except UnicodeDecodeError:
                login = None
            expected = self._users.get(login) if login is not None else None
            if expected is not None and hmac.compare_digest(expected.encode("utf-8"), auth_data.password):
                return AuthResult(success=True, auth_data=login)
            log.info("AUTH %s failed for login %r", mechanism, login)
        # handled=False makes aiosmtpd send its "535 5.7.8 Authentication credentials invalid".
        return AuthResult(success=False, handled=False)

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname  # the 5-argument hook must do this itself
        return [*responses[:-1], "250-DSN", responses[-1]]

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        # Also covers implicit TLS, where aiosmtpd's own auth_required cannot be used (see SubmissionServer).
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        login = str(session.auth_data)
        sender = envelope.mail_from or ""
        if sender == "<>":  # aiosmtpd's spelling of the null sender; nobody owns it
            sender = ""
        if not self._owns(login, sender):
            return f"553 5.7.1 <{sender}>: Sender address rejected: not owned by user {login}"
        if self._is_local(address) and self._local_recipients is not None and (
            address.lower() not in self._local_recipients
        ):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in virtual mailbox table"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        sender = envelope.mail_from or ""
        targets = self.route(envelope.rcpt_tos)
        data = envelope.original_content if envelope.original_content is not None else b""
        loop = asyncio.get_running_loop()
        try:
            # A worker thread, so a slow LMTP server does not freeze other SMTP sessions.
            await loop.run_in_executor(self._executor, self._deliver, sender, targets, data)
        except Exception:
            log.error("Delivery from <%s> to %s failed; answered 451", sender, targets, exc_info=True)
            return "451 4.3.0 Error: local delivery failed, try again later"
        log.info("Delivered from <%s> to %s (%d bytes)", sender, targets, len(data))
        return "250 2.0.0 Ok: delivered"

    def route(self, recipients: Sequence[str]) -> list[str]:
        """Local recipients stay; anything else goes to ``sink@<local_domain>``; duplicates collapse."""
        routed: dict[str, None] = {}
        for rcpt in recipients:
            routed.setdefault(rcpt if self._is_local(rcpt) else f"sink@{self._local_domain}", None)
        return list(routed)

    def _is_local(self, address: str) -> bool:
        return address.rpartition("@")[2].lower() == self._local_domain

    def _owns(self, login: str, sender: str) -> bool:
        owners = self._owners.get(sender.lower())
        if owners is None:
            owners = self._owners.get("@" + sender.rpartition("@")[2].lower(), set())
        return login.lower() in owners


# --------------------------------------------------------------------------------------------------
# The threaded controller, adapted: we bind the socket ourselves (port 0 works and a busy port fails at
# once instead of after aiosmtpd's 5 s ready timeout) and close every client connection on stop, since
# asyncio's Server.close() on Python < 3.13 leaves accepted connections open (-> ResourceWarning).


def _not_started(task: asyncio.Task[Any]) -> bool:
    coro = task.get_coro()
    return inspect.iscoroutine(coro) and inspect.getcoroutinestate(coro) == inspect.CORO_CREATED


class _Controller(Controller):
    def __init__(self, handler: _Handler, sock: socket.socket, **kwargs: Any) -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, **kwargs)
        self._sock = sock
        self._protocols: weakref.WeakSet[SMTP] = weakref.WeakSet()

    def factory(self) -> SMTP:
        protocol = _SubmissionSMTP(self.handler, **self.SMTP_kwargs)
        self._protocols.add(protocol)
        return protocol

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)

    async def _close_everything(self) -> None:
        """Stop listening, then close every connection and finish every task, so nothing leaks.

        Two asyncio 3.11 traps shape this: a connection accepted just before ``Server.close()`` is a bare
        socket inside a not-yet-run accept task, and once the server is closed that task dies on an
        assertion in ``Server._attach()`` and leaks the socket; and cancelling any task before its first
        step skips its cleanup. So: let pending tasks start, close the listener in that same step, then
        abort connections and cancel/await tasks until none is left.
        """
        current = asyncio.current_task()

        def others() -> list[asyncio.Task[Any]]:
            return [t for t in asyncio.all_tasks() if t is not current]

        for _ in range(1000):  # bounded: a flood of new connections must not hang stop()
            if not any(_not_started(t) for t in others()):
                break
            await asyncio.sleep(0)
        if self.server is not None:
            self.server.close()  # same step as the check above: no accept task can sneak in between
        for _ in range(1000):  # normally 2-3 rounds
            # Let queued callbacks run first: a fresh transport's connection_made() is one, and an SSL
            # transport closed before it ran ignores the close and leaks.
            await asyncio.sleep(0)
            for protocol in list(self._protocols):
                if protocol.transport is not None:
                    protocol.transport.abort()
            tasks = others()
            if not tasks:
                break
            if any(_not_started(t) for t in tasks):
                continue
            for task in tasks:
                task.cancel()  # sessions (aiosmtpd closes), implicit-TLS handshakes (asyncio closes)
            await asyncio.gather(*tasks, return_exceptions=True)
        for _ in range(3):  # let connection_lost callbacks (queued by abort/close) run before the loop stops
            await asyncio.sleep(0)

    def close_gracefully(self) -> None:
        if self._thread is not None and self.loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self._close_everything(), self.loop)
            try:
                future.result(_SHUTDOWN_TIMEOUT)
            except Exception:
                log.warning("Demo submission server did not close its connections cleanly", exc_info=True)
        self.stop(no_assert=True)
        if not self.loop.is_closed():  # the loop thread died before run_forever (start failed)
            self.loop.close()
        self._sock.close()


class _DropLoginDataNoise(logging.Filter):
    """aiosmtpd 1.4 logs a WARNING ("Session.login_data is deprecated") on *every* successful AUTH, from
    its own code. It is not actionable and would trip tests that fail on logged warnings."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


_LOGIN_DATA_FILTER = _DropLoginDataNoise()  # stateless; addFilter() ignores repeats


class SubmissionServer:
    """SMTP submission (STARTTLS on ``port``, or implicit TLS) for the demo, running in its own thread.

    ``users`` maps login -> password; ``sender_logins`` maps envelope address (or ``@domain``) -> logins
    allowed to use it, like Postfix's ``smtpd_sender_login_maps``. ``local_recipients``, when given, lists
    the addresses that exist in ``local_domain``: others are refused at RCPT like Postfix does (``550 5.1.1
    ... User unknown``) instead of failing later in ``deliver`` with an endless 451. ``port`` may be 0;
    after :meth:`start`, :attr:`port` is the port actually bound. Listens on ``host`` only.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        cert_pem: Path,
        key_pem: Path,
        users: Mapping[str, str],
        sender_logins: Mapping[str, Sequence[str]],
        local_domain: str,
        deliver: Deliver,
        implicit_tls: bool = False,
        local_recipients: Collection[str] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.implicit_tls = implicit_tls
        self.local_domain = local_domain
        self._cert_pem = Path(cert_pem)
        self._key_pem = Path(key_pem)
        self._users = dict(users)
        self._sender_logins = {addr: tuple(logins) for addr, logins in sender_logins.items()}
        self._deliver = deliver
        self._local_recipients = None if local_recipients is None else tuple(local_recipients)
        self._controller: _Controller | None = None
        self._executor: ThreadPoolExecutor | None = None

    def start(self) -> None:
        """Bind, start the server thread and return once it answers. Raises TlsError / NetworkError."""
        if self._controller is not None:
            raise RuntimeError("SubmissionServer already started")
        tls = self._tls_context()
        sock = self._bind()
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-submission-deliver")
        handler = _Handler(
            self._users, self._sender_logins, self.local_domain, self._deliver, executor, self._local_recipients
        )
        smtp_kwargs: dict[str, Any] = {
            "server_hostname": self.local_domain,  # banner name; avoids socket.getfqdn() (a DNS lookup)
            "ident": "SharedClient demo submission",
            "authenticator": handler.authenticate,
        }
        if self.implicit_tls:
            # The whole connection is TLS, but aiosmtpd only counts STARTTLS as TLS for AUTH; and
            # auth_required=True with auth_require_tls=False makes it warn(). So: no aiosmtpd TLS/auth
            # requirement here; handle_MAIL enforces authentication instead.
            smtp_kwargs.update(ssl_context=tls, auth_required=False, auth_require_tls=False)
        else:
            smtp_kwargs.update(tls_context=tls, require_starttls=True, auth_required=True, auth_require_tls=True)
        logging.getLogger("mail.log").addFilter(_LOGIN_DATA_FILTER)
        controller = _Controller(handler, sock, **smtp_kwargs)
        try:
            controller.start()
        except BaseException as exc:
            controller.close_gracefully()
            executor.shutdown(wait=True)
            if isinstance(exc, Exception):
                raise NetworkError(f"The demo mail server could not start on {self.host}: {exc}") from exc
            raise
        self._controller, self._executor = controller, executor
        self.port = controller.port
        log.info("Demo submission server on %s:%d (%s)", self.host, self.port,
                 "implicit TLS" if self.implicit_tls else "STARTTLS")

    def stop(self) -> None:
        """Close all connections, stop the thread, wait for a delivery in progress. Idempotent."""
        controller, executor = self._controller, self._executor
        self._controller = self._executor = None
        if controller is not None:
            controller.close_gracefully()
        if executor is not None:
            executor.shutdown(wait=True)

    def __enter__(self) -> SubmissionServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)  # no client certificates asked
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(self._cert_pem, self._key_pem)
        except (OSError, ssl.SSLError) as exc:
            raise TlsError(f"The demo mail server cannot load its certificate {self._cert_pem}: {exc}") from exc
        return context

    def _bind(self) -> socket.socket:
        try:
            infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_NUMERICHOST | socket.AI_PASSIVE)
        except socket.gaierror as exc:
            raise NetworkError(f"The demo mail server needs a numeric address, not {self.host!r}.") from exc
        family, type_, proto, _, address = infos[0]
        sock = socket.socket(family, type_, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart right after a stop
            sock.bind(address)
        except OSError as exc:
            sock.close()
            raise NetworkError(
                f"The demo mail server cannot listen on {self.host}:{self.port}: {exc.strerror or exc}."
            ) from exc
        return sock


def lmtp_deliverer(host: str, port: int, *, timeout: float = 30.0) -> Deliver:
    """A ``deliver`` callable handing each message to an LMTP server over TCP (the demo's Dovecot).

    One LMTP transaction per recipient: LMTP answers DATA once per recipient, but smtplib reads only one
    reply, so several recipients in one transaction would desynchronise the connection. Any refusal
    raises (smtplib.SMTPException), which the submission server turns into 451.
    """

    def deliver(envelope_from: str, recipients: list[str], data: bytes) -> None:
        # local_hostname given so smtplib does not call socket.getfqdn() (a DNS lookup).
        with smtplib.LMTP(host, port, local_hostname="localhost", timeout=timeout) as lmtp:
            for rcpt in recipients:
                lmtp.sendmail(envelope_from, [rcpt], data)

    return deliver
