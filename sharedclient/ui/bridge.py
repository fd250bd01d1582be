"""Deliver results from worker threads to the GUI thread.

Workers complete ``concurrent.futures.Future`` objects on their own threads; Qt widgets may only be
touched on the GUI thread. A signal emitted from a worker thread to a QObject living on the GUI thread is
queued by Qt, so the slot runs on the GUI thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal, Slot

from sharedclient.core.errors import SharedClientError

log = logging.getLogger(__name__)
T = TypeVar("T")


class MainThreadBridge(QObject):
    """``post(fn)`` from any thread runs ``fn()`` later on the thread this object lives on."""

    _posted = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._posted.connect(self._run)

    def post(self, fn: Callable[[], None]) -> None:
        self._posted.emit(fn)

    @Slot(object)
    def _run(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:  # noqa: BLE001 - one broken callback must not take the GUI down
            log.exception("GUI callback failed")

    def when_done(
        self,
        future: Future[T],
        on_success: Callable[[T], None],
        on_error: Callable[[SharedClientError], None],
    ) -> None:
        """Call ``on_success(result)`` or ``on_error(error)`` on the GUI thread once ``future`` finishes.

        Unexpected exceptions reach ``on_error`` as a SharedClientError with a plain sentence; the
        details go to the log, never into a dialog.
        """

        def finished(fut: Future[Any]) -> None:
            if fut.cancelled():
                return
            exc = fut.exception()
            if exc is None:
                result = fut.result()
                self.post(lambda: on_success(result))
                return
            if isinstance(exc, CancelledError):
                return
            if not isinstance(exc, SharedClientError):
                log.error("background job failed", exc_info=exc)
                exc = SharedClientError(f"Something went wrong in the background ({type(exc).__name__}); see the log.")
            error = exc
            self.post(lambda: on_error(error))

        future.add_done_callback(finished)
