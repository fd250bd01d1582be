"""Header summaries of a large sync computed in a helper process, while the sync reads the next batch.

Summarising a header block (``headers.summarise``: decoding encoded words, addresses and dates) is pure
Python at ~30 µs a message, more than the server and the wire take to deliver it; inserting the rows
costs another ~13 µs. In one process those add up; with the summaries made in a second process they
overlap: the sync reads batch *n+1* and stores batch *n-1* while the helper summarises batch *n*.

Only worth it for big syncs (starting the helper costs ~0.1 s), on machines with more than one core.
The helper is started with ``spawn`` (never ``fork``: the GUI process has Qt and worker threads), runs
nothing but ``summarise``, and is shut down when the sync ends. If it cannot start or dies, the sync
summarises in-process and says so in the log: the result is the same, only slower.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType

from sharedclient.core.imap.headers import HeaderSummary, summarise, summary_row

log = logging.getLogger(__name__)

#: Below this many new messages the sync summarises in its own thread.
MIN_MESSAGES = 6000


def summarise_rows(blocks: list[bytes]) -> list[tuple[object, ...]]:
    """Runs in the helper: plain tuples pickle faster than named ones (no class lookup per row)."""
    return [summary_row(block) for block in blocks]


class SummaryPool:
    """``submit(blocks)`` -> a future of their summaries, in order; in-process when not ``parallel``."""

    def __init__(self, parallel: bool) -> None:
        self._executor: ProcessPoolExecutor | None = None
        if parallel and (os.cpu_count() or 1) > 1:
            try:
                self._executor = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
                self._executor.submit(int)  # start the process now, while the first batch is on the wire
            except (OSError, RuntimeError) as exc:
                log.warning("summarising in-process: no helper process (%s)", exc)
                self._executor = None

    @property
    def parallel(self) -> bool:
        return self._executor is not None

    def submit(self, blocks: list[bytes]) -> Future[list[HeaderSummary]]:
        result: Future[list[HeaderSummary]] = Future()
        if self._executor is not None:
            try:
                rows = self._executor.submit(summarise_rows, blocks)
            except (BrokenProcessPool, RuntimeError) as exc:
                self._give_up(exc)
            else:
                rows.add_done_callback(lambda done: self._deliver(done, blocks, result))
                return result
        result.set_result([summarise(block) for block in blocks])
        return result

    def _deliver(self, done: Future[list[tuple[object, ...]]], blocks: list[bytes], result: Future) -> None:
        try:
            rows = done.result()
        except BrokenProcessPool as exc:  # the helper died (killed, out of memory): do this batch here
            self._give_up(exc)
            result.set_result([summarise(block) for block in blocks])
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for the batch
            result.set_exception(exc)
        else:
            result.set_result([HeaderSummary._make(row) for row in rows])

    def _give_up(self, exc: BaseException) -> None:
        log.warning("summarising in-process: the helper process failed (%s)", exc)
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> SummaryPool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
