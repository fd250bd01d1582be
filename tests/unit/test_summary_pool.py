"""The sync's helper process gives the same summaries as summarising in-process, and survives its death."""

from __future__ import annotations

import os
import signal

from sharedclient.core.imap.headers import summarise
from sharedclient.core.imap.summary_pool import SummaryPool

BLOCKS = [
    b"From: =?utf-8?q?Jos=C3=A9_Rossi?= <jose@shop.test>\r\nSubject: Order " + str(n).encode() + b"\r\n"
    b"Date: Thu, 02 Mar 2023 21:27:19 +0300\r\nTo: support@example.test, \"Team\" <team@example.test>\r\n\r\n"
    for n in range(500)
] + [b"", b"\x00\xff garbage", b"Subject: =?bogus?b?!!!?=\r\n"]


def test_helper_process_summaries_equal_in_process_ones() -> None:
    expected = [summarise(b) for b in BLOCKS]
    with SummaryPool(parallel=True) as pool:
        assert pool.parallel
        futures = [pool.submit(BLOCKS[i : i + 100]) for i in range(0, len(BLOCKS), 100)]
        got = [s for f in futures for s in f.result(60)]
    assert got == expected
    assert got[0].from_name == "José Rossi" and got[0].subject == "Order 0"


def test_in_process_when_not_parallel() -> None:
    with SummaryPool(parallel=False) as pool:
        assert not pool.parallel
        assert pool.submit(BLOCKS[:3]).result(0) == [summarise(b) for b in BLOCKS[:3]]


def test_a_killed_helper_falls_back_to_in_process() -> None:
    with SummaryPool(parallel=True) as pool:
        pool.submit([b"Subject: warm-up\r\n"]).result(60)
        executor = pool._executor  # noqa: SLF001 - reaching in to kill the real process
        assert executor is not None
        for pid in list(executor._processes):  # noqa: SLF001
            os.kill(pid, signal.SIGKILL)
        results = [pool.submit(BLOCKS[:50]) for _ in range(3)]
        assert all(r.result(60) == [summarise(b) for b in BLOCKS[:50]] for r in results)
        assert not pool.parallel
