"""Send latency through the real send core and the benchmark's Postfix.

The GUI composer hands an ``OutgoingMessage`` to ``SendWorker.send`` (``ui/sending.py``); so does this,
with alice sending as support@ (Send As, the shared mailbox's case) to an outside address (Postfix routes
it to its sink). Per send, two times from the call of ``send``: until the server's 250 has been committed
(the person's "it is sent") and until the Future resolves (team copy appended to support@'s Sent too).
There is no DLP step in the send core yet; when one exists it runs inside ``send`` and is included.
"""

from __future__ import annotations

import time
from email.headerregistry import Address
from pathlib import Path

from tests.benchmarks.servers import ALICE, SUPPORT, BenchWorld

WARMUP = 2


def available() -> bool:
    """True when the send core (outbox worker, composer model, profile database) exists."""
    try:
        from sharedclient.core.mime.compose import OutgoingMessage  # noqa: F401
        from sharedclient.core.outbox_worker import SendContext, SendStatus, SendWorker  # noqa: F401
        from sharedclient.core.store.profile_db import ProfileDb  # noqa: F401
    except ImportError:
        return False
    return True


def send_latencies(world: BenchWorld, workdir: Path, count: int) -> tuple[list[float], list[float]]:
    """(seconds to the committed 250, seconds to the resolved Future) for ``count`` sends."""
    from sharedclient.core.mime.compose import OutgoingMessage
    from sharedclient.core.model import Identity, SendMode
    from sharedclient.core.outbox_worker import SendContext, SendStatus, SendWorker
    from sharedclient.core.dlp_policy import DlpPolicy, VolumeLimit
    from sharedclient.core.settings import Settings
    from sharedclient.core.store.profile_db import ProfileDb

    if world.postfix is None:
        raise RuntimeError("send latency needs the benchmark's Postfix")
    identity = Identity(SUPPORT, "Support", "alice", SendMode.SEND_AS, mailbox_owner=SUPPORT)
    # The DLP scan and volume count stay in the measurement; the limit is raised above the run's 100+ sends.
    dlp = DlpPolicy(volume=VolumeLimit(messages=100_000, minutes=60))
    settings = Settings(accounts=(world.account(ALICE, "alice"),), identities=(identity,), dlp=dlp)
    workdir.mkdir(parents=True, exist_ok=True)
    db = ProfileDb.for_data_dir(workdir)
    worker = SendWorker(db, SendContext("bench", lambda: settings, world.credentials()), auto_retry=False)
    accepted: list[float] = []
    mark_sent = worker.outbox.mark_sent

    def timed_mark_sent(item_id: int, smtp_reply: str) -> None:
        mark_sent(item_id, smtp_reply)
        accepted.append(time.perf_counter())

    worker.outbox.mark_sent = timed_mark_sent  # type: ignore[method-assign]
    to_250: list[float] = []
    to_done: list[float] = []
    try:
        for i in range(count + WARMUP):
            message = OutgoingMessage(
                identity=identity,
                to=(Address("Zoë Müller", "zoe.mueller", "example.org"),),
                subject=f"Re: Order #{48000 + i} arrived damaged",
                body="Hello Zoë,\n\nthanks for the photos; a replacement is on its way.\n\nKind regards,\nAlice\n",
            )
            before = len(accepted)
            started = time.perf_counter()
            report = worker.send(message).result(timeout=120)
            done = time.perf_counter()
            if report.status is not SendStatus.SENT or len(accepted) != before + 1:
                raise RuntimeError(f"send {i} was not accepted: {report.status} {report.message}")
            if report.warnings:
                raise RuntimeError(f"send {i} warned: {report.warnings}")
            if i >= WARMUP:
                to_250.append(accepted[-1] - started)
                to_done.append(done - started)
    finally:
        worker.stop()
        db.close()
    return to_250, to_done


__all__ = ["available", "send_latencies"]
