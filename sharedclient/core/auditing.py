"""The one small surface every part of SharedClient uses to write the access audit trail.

``AuditRecorder.record(action, account=…, target=…, result=…, details=…)`` appends one entry to the
profile's :class:`~sharedclient.core.store.audit.AuditLog`. Why a wrapper and not the log itself:

* **No SQL on the GUI thread.** Each entry is fsynced (``synchronous=FULL``); with ``background=True``
  entries are queued and written, in order, by one thread of their own, so a click never waits for the disk.
* **Recording never breaks an action that already happened.** A write that fails afterwards (the file was
  changed behind our back) is logged and reported through ``on_error`` with a sentence, once per problem.
* **Where the entry is the reason an action may go on** (a DLP override), :meth:`record_now` waits for the
  entry to be on disk and raises :class:`StorageError` if it cannot be, so the action is refused.
* **Tests and tools without a profile** use :data:`NO_AUDIT`, which records nothing.

A damaged audit database is not bypassed: opening it raises ``StorageError`` (see ``AuditLog``), and the
CLI and the window refuse to start recording on it.

Action names (``group.verb``, so ``--action send`` selects a group): ``profile.open``, ``login``,
``mailbox.open``, ``message.read``, ``message.flags``, ``message.delete``, ``message.move``, ``message.copy``,
``attachment.save``, ``send.attempt``, ``send.accepted``, ``send.deferred``, ``send.refused``, ``permission.check``,
``permission.denied``, ``dlp.blocked``, ``dlp.warned``, ``dlp.override``, ``volume.blocked``,
``volume.warned``, ``identity.add``, ``identity.remove``, ``account.add``, ``account.remove``,
``acl.grant``, ``acl.revoke``, ``audit.export``.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from sharedclient.core.errors import SharedClientError, StorageError
from sharedclient.core.model import Account, Identity
from sharedclient.core.store.audit import AuditLog, audit_path

log = logging.getLogger(__name__)

_Job = tuple[str, dict[str, Any], "Future[int] | None"]


class AuditRecorder:
    """Writes entries to one AuditLog (or nowhere, for ``log=None``)."""

    def __init__(
        self,
        audit_log: AuditLog | None,
        *,
        background: bool = False,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.log = audit_log
        self._on_error = on_error or (lambda sentence: None)
        self._lock = threading.Lock()
        self._last_error = ""
        self._queue: queue.Queue[_Job | None] | None = None
        self._thread: threading.Thread | None = None
        if audit_log is not None and background:
            self._queue = queue.Queue()
            self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
            self._thread.start()

    @property
    def enabled(self) -> bool:
        return self.log is not None

    # -- writing ---------------------------------------------------------------------------------

    def record(
        self, action: str, *, account: str = "", target: Any = None, result: str = "ok",
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append an entry (queued when in the background); failures are reported, never raised."""
        if self.log is None:
            return
        entry = {"account": account, "target": target, "result": result, "details": details or {}}
        if self._queue is not None:
            self._queue.put((action, entry, None))
            return
        try:
            self._write(action, entry)
        except SharedClientError as exc:
            self._report(exc.user_message)

    def record_now(
        self, action: str, *, account: str = "", target: Any = None, result: str = "ok",
        details: dict[str, Any] | None = None,
    ) -> int | None:
        """Append an entry and wait until it is on disk (after everything queued before it).

        Returns its ``seq`` (``None`` without an audit trail); raises StorageError when it cannot be written.
        """
        if self.log is None:
            return None
        entry = {"account": account, "target": target, "result": result, "details": details or {}}
        if self._queue is None:
            return self._write(action, entry)
        future: Future[int] = Future()
        self._queue.put((action, entry, future))
        return future.result()

    def _write(self, action: str, entry: dict[str, Any]) -> int:
        assert self.log is not None
        with self._lock:
            return self.log.record(action, **entry)

    def _report(self, sentence: str) -> None:
        text = f"The audit trail could not be written: {sentence}"
        log.error("%s", text)
        if text != self._last_error:  # one report per problem, not one per click
            self._last_error = text
            try:
                self._on_error(text)
            except Exception:  # noqa: BLE001 - a reporting bug must not stop recording
                log.exception("audit error listener failed")

    def _run(self) -> None:
        assert self._queue is not None
        while True:
            job = self._queue.get()
            if job is None:
                break
            action, entry, future = job
            if not action:  # flush() marker: everything before it is written
                if future is not None:
                    future.set_result(0)
                continue
            try:
                seq = self._write(action, entry)
            except SharedClientError as exc:
                if future is not None:
                    future.set_exception(exc)
                else:
                    self._report(exc.user_message)
                continue
            except Exception as exc:  # noqa: BLE001 - e.g. a value JSON cannot hold: a bug, but keep writing
                log.exception("audit entry %s could not be written", action)
                if future is not None:
                    future.set_exception(StorageError(f"The audit entry could not be written ({exc})."))
                continue
            if future is not None:
                future.set_result(seq)

    # -- closing ---------------------------------------------------------------------------------

    def flush(self) -> None:
        """Wait until every queued entry is written (tests, and before showing the trail)."""
        if self._queue is not None and self._thread is not None and self._thread.is_alive():
            done: Future[int] = Future()
            self._queue.put(("", {}, done))  # a marker, nothing written
            done.result(timeout=30)

    def close(self) -> None:
        """Write what is queued, stop the writer thread, close the log."""
        if self._queue is not None and self._thread is not None:
            self._queue.put(None)
            self._thread.join(30)
            self._queue = None
        if self.log is not None:
            self.log.close()


    def __enter__(self) -> AuditRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


NO_AUDIT = AuditRecorder(None)


def profile_audit(data_dir: Path, profile_name: str) -> AuditRecorder:
    """A synchronous recorder on a profile's trail; StorageError (refusing the change) when it is damaged."""
    return AuditRecorder(AuditLog(audit_path(data_dir), profile_name))


def record_setup(audit: AuditRecorder, accounts: Iterable[Account], identities: Iterable[Identity]) -> None:
    """``account.add`` / ``identity.add`` for what a setup (the window's account wizard) saved; closes ``audit``."""
    with audit:
        for account in accounts:
            audit.record("account.add", account=account.name, details={
                "email": account.email, "username": account.username, "imap": str(account.imap),
                "smtp": str(account.smtp), "kind": account.kind,
            })  # fmt: skip
        for identity in identities:
            audit.record("identity.add", account=identity.account, target={"identity": identity.address},
                         details={"mode": identity.mode.value})  # fmt: skip
