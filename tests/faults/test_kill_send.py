"""``kill -9`` of a sending process at chosen points, then a new process runs ``outbox flush``.

The child is the real CLI (``python -m sharedclient send``) talking to the real Postfix and Dovecot through
:class:`tests.faults.gate.TlsGate`, which freezes the conversation at the kill point and tells the test; the
test checks that the client's outbox is in the state the point implies (so the premise is real, not
assumed) and then sends SIGKILL. Points:

==============  ===================================================  ======================================
point           where the child dies                                 guaranteed after ``outbox flush``
==============  ===================================================  ======================================
greeting        SMTP connection open, nothing submitted              delivered once; history retrying, sent
mid-data        part of the message went to the server, no final .   delivered once; history retrying, sent
after-dot       server accepted (250) but the child never saw it     delivered once (never resent); history
                                                                     uncertain, outbox says so
copy-greeting   after 250 was committed, before the Sent copy        delivered once; history sent; one copy
append-reply    Sent copy appended, the server's OK not yet seen     delivered once; history sent; one copy
==============  ===================================================  ======================================

``after-dot`` is the one place a client cannot know the outcome (see ``core/store/outbox.py``): it never
resends by itself (at most once) and says so. ``test_dot_lost_in_transit_is_not_resent`` shows the other
side of that choice: if the dot never reached the server, nothing was delivered and the person must resend.

``make test`` runs 6 seeded runs; ``pytest -m killloop tests/faults`` runs all 50.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sharedclient.core.store.outbox import UNCERTAIN_AFTER_CRASH
from tests.conftest import addr, password
from tests.faults.child import dump, history_rows, outbox_rows, run_cli, start_cli, wait_until
from tests.faults.gate import TlsGate

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.conftest import MailServers

POINTS = ("greeting", "mid-data", "after-dot", "copy-greeting", "append-reply")
# Attachment of the mid-data runs: 8 MB once encoded; the child is stopped within its first 2 MB, and the
# rest is more than the kernel's socket buffers (4 MB) hold, so it really waits mid-DATA (asserted anyway).
BIG = 6 * 1024 * 1024
MID_DATA_WITHIN = 2 * 1024 * 1024


def kill_runs(config: pytest.Config) -> int:
    return 50 if "killloop" in (config.getoption("markexpr") or "") else 6


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "kill_run" in metafunc.fixturenames:
        metafunc.parametrize("kill_run", range(kill_runs(metafunc.config)))


def plan(run: int) -> tuple[str, int]:
    """The kill point of run ``run`` (each block of 5 runs covers every point, in a seeded order) and a
    seeded byte offset for mid-data."""
    block = list(POINTS)
    random.Random(f"killloop-block-{run // len(POINTS)}").shuffle(block)
    return block[run % len(POINTS)], random.Random(f"killloop-offset-{run}").randrange(1, MID_DATA_WITHIN)


@pytest.fixture(scope="module")
def gates(mail_servers: MailServers) -> Iterator[tuple[TlsGate, TlsGate]]:
    with TlsGate(mail_servers.postfix.submissions_port, mail_servers.certs) as smtp_gate, TlsGate(
        mail_servers.dovecot.imap_tls_port, mail_servers.certs
    ) as imap_gate:
        yield smtp_gate, imap_gate


def setup(tmp_path: Path, servers: MailServers, smtp_gate: TlsGate, imap_gate: TlsGate) -> tuple[Path, Path]:
    basedir, keyring_file = tmp_path / "profile", tmp_path / "keyring.json"
    code, out = run_cli(
        basedir, keyring_file, "account", "add", "work", "--email", addr("alice"),
        "--imap", f"127.0.0.1:{imap_gate.port}", "--smtp", f"127.0.0.1:{smtp_gate.port}", "--smtp-security", "tls",
        "--ca-file", str(servers.certs.ca_pem), "--password-stdin", stdin=password("alice") + "\n",
    )  # fmt: skip
    assert code == 0, out
    return basedir, keyring_file


def count(servers: MailServers, user: str, folder: str, msgid: str) -> int:
    with servers.imap(user) as client:
        client.select_folder(folder, readonly=True)
        return len(client.search(["HEADER", "Message-ID", msgid]))


def send_and_kill(
    tmp_path: Path, servers: MailServers, gates: tuple[TlsGate, TlsGate], point: str, *, offset: int = 1, big: bool
) -> tuple[Path, Path, dict[str, object]]:
    """Start ``send`` in a child, freeze it at ``point``, check the premise, kill -9. Returns the outbox row."""
    smtp_gate, imap_gate = gates
    basedir, keyring_file = setup(tmp_path, servers, smtp_gate, imap_gate)
    args = ["send", "--from", addr("alice"), "--to", f"kill-{tmp_path.name}@customer.test",
            "--subject", f"kill at {point}", "--body", f"Killed at {point}."]  # fmt: skip
    if big:
        attachment = tmp_path / "big.bin"
        attachment.write_bytes(random.Random(offset).randbytes(BIG))
        args += ["--attach", str(attachment)]
    gate, armed = (imap_gate, "greeting") if point == "copy-greeting" else (smtp_gate, point)
    if point == "append-reply":
        gate = imap_gate
    gate.arm(f"mid-data:{offset}" if point == "mid-data" else armed)
    child = start_cli(basedir, keyring_file, *args, log=tmp_path / "child.log")
    try:
        wait_until(lambda: gate.held.is_set() or child.poll() is not None, 60, f"the child to reach {point}")
        assert gate.held.is_set(), f"child ended (rc {child.returncode}) before {point}: {(tmp_path / 'child.log').read_text()}"
        expected = {
            "greeting": ("sending", ""), "mid-data": ("sending", ""), "after-dot": ("sending", "final-dot"),
            "before-dot": ("sending", "final-dot"), "copy-greeting": ("sent", ""), "append-reply": ("sent", ""),
        }[point]  # fmt: skip
        # The state the point implies must be committed (and stay so: mid-data must not reach the dot).
        wait_until(lambda: [(r["state"], r["phase"]) for r in outbox_rows(basedir)] == [expected], 10,
                   f"outbox state {expected}; it is {dump(outbox_rows(basedir))}")  # fmt: skip
        if point == "mid-data":
            time.sleep(0.5)
            assert [(r["state"], r["phase"]) for r in outbox_rows(basedir)] == [expected], "the child got past DATA"
        if point == "after-dot":
            assert gate.withheld.startswith(b"250"), gate.withheld
        if point == "append-reply":
            assert b" OK " in gate.withheld, gate.withheld
        (row,) = outbox_rows(basedir)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        gate.drop()
    assert child.returncode == -signal.SIGKILL
    return basedir, keyring_file, row


def restart_and_check(
    basedir: Path, keyring_file: Path, servers: MailServers, point: str, msgid: str
) -> None:
    code, out = run_cli(basedir, keyring_file, "outbox", "flush")
    assert code in (0, 1), out
    if point != "after-dot":
        wait_until(lambda: count(servers, "sink", "INBOX", msgid), 20, f"{msgid} in the recipient's mailbox")
    servers.postfix.wait_idle()
    statuses = [h["status"] for h in history_rows(basedir) if h["message_id"] == msgid]
    rows = outbox_rows(basedir)
    assert count(servers, "sink", "INBOX", msgid) == 1, f"{point}: not delivered exactly once\n{out}"
    if point in ("greeting", "mid-data"):
        assert statuses == ["retrying", "sent"], statuses
        assert rows == [], dump(rows)
        assert count(servers, "alice", "Sent", msgid) == 1
    elif point == "after-dot":
        assert statuses == ["uncertain"], statuses
        assert [(r["state"], r["last_error"]) for r in rows] == [("failed", UNCERTAIN_AFTER_CRASH)], dump(rows)
        assert "may or may not have been delivered" in run_cli(basedir, keyring_file, "outbox")[1]
        assert count(servers, "alice", "Sent", msgid) == 0
    else:  # after the 250: the copy is saved once, nothing is sent again
        assert statuses == ["sent"], statuses
        assert rows == [], dump(rows)
        assert count(servers, "alice", "Sent", msgid) == 1
        assert [h["copy_mailbox"] for h in history_rows(basedir) if h["message_id"] == msgid] == ["Sent"]
    # A second restart changes nothing.
    assert run_cli(basedir, keyring_file, "outbox", "flush")[0] in (0, 1)
    servers.postfix.wait_idle()
    assert count(servers, "sink", "INBOX", msgid) == 1


@pytest.mark.killloop
def test_kill_9_while_sending_then_restart_delivers_exactly_once(
    kill_run: int, tmp_path: Path, mail_servers: MailServers, gates: tuple[TlsGate, TlsGate]
) -> None:
    point, offset = plan(kill_run)
    basedir, keyring_file, row = send_and_kill(tmp_path, mail_servers, gates, point, offset=offset,
                                               big=point == "mid-data")  # fmt: skip
    restart_and_check(basedir, keyring_file, mail_servers, point, str(row["message_id"]))


def test_plan_covers_every_point_in_the_reduced_run() -> None:
    assert {plan(run)[0] for run in range(5)} == set(POINTS)


def test_dot_lost_in_transit_is_not_resent_and_the_person_is_told(
    tmp_path: Path, mail_servers: MailServers, gates: tuple[TlsGate, TlsGate]
) -> None:
    """The other side of at-most-once: the child recorded "final dot" but the dot never reached the server."""
    basedir, keyring_file, row = send_and_kill(tmp_path, mail_servers, gates, "before-dot", big=False)
    msgid = str(row["message_id"])
    code, out = run_cli(basedir, keyring_file, "outbox", "flush")
    mail_servers.postfix.wait_idle()
    assert count(mail_servers, "sink", "INBOX", msgid) == 0  # the server dropped the unfinished DATA
    ((item_id, state, error),) = [(r["id"], r["state"], r["last_error"]) for r in outbox_rows(basedir)]
    assert (state, error) == ("failed", UNCERTAIN_AFTER_CRASH)
    assert [h["status"] for h in history_rows(basedir)] == ["uncertain"]
    # The person checks, finds nothing arrived, and asks for it to be sent: now it is delivered once.
    code, out = run_cli(basedir, keyring_file, "outbox", "retry", str(item_id))
    assert code == 0, out
    wait_until(lambda: count(mail_servers, "sink", "INBOX", msgid), 20, "the resent message")
    mail_servers.postfix.wait_idle()
    assert count(mail_servers, "sink", "INBOX", msgid) == 1
    assert [h["status"] for h in history_rows(basedir)] == ["uncertain", "sent"]


def test_kill_between_recording_the_250_and_its_history_row_is_settled_at_restart(
    tmp_path: Path, mail_servers: MailServers, gates: tuple[TlsGate, TlsGate]
) -> None:
    """The 250 and the history row are two commits; a kill between them (too narrow to hit with a signal)
    is reproduced by killing just after both and putting the history row back to what the first left."""
    basedir, keyring_file, row = send_and_kill(tmp_path, mail_servers, gates, "copy-greeting", big=False)
    (db_path,) = basedir.rglob("outbox.sqlite")
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("UPDATE history SET status = 'sending', smtp_reply = ''")
    conn.close()
    restart_and_check(basedir, keyring_file, mail_servers, "copy-greeting", str(row["message_id"]))
    (entry,) = history_rows(basedir)
    assert str(entry["smtp_reply"]).startswith("250")
