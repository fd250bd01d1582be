"""Delivery tracking end to end: send with DSN through the real Postfix, let the reports arrive in the
envelope sender's mailbox (for Send As: support@'s shared INBOX), sync, and read the history's state.

``former@example.test`` is accepted by Postfix but unknown to Dovecot (tests/servers/postfix.py), so
Postfix bounces it with Dovecot's LMTP reply as the diagnostic.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typing import TYPE_CHECKING

from sharedclient.core.model import Identity
from sharedclient.core.tracking.mdn import build_receipt
from tests.integration.test_send_path import SUPPORT, SUPPORT_INBOX, add_support, history, ok, parse, setup_profile, wait_for
from tests.memory_keyring import MemoryKeyring

if TYPE_CHECKING:
    from tests.conftest import MailServers


@pytest.fixture
def support_inbox_restored(mail_servers: MailServers) -> Iterator[None]:
    """Mail these tests add to support@'s INBOX (reports, receipts) is removed afterwards: other tests
    answer the newest message there and must not get a delivery report."""
    with mail_servers.imap("support") as client:
        client.select_folder("INBOX")
        before = max(client.search(["ALL"]) or [0])
    yield
    mail_servers.postfix.wait_idle(30)  # late reports are delivered before the queue is empty
    with mail_servers.imap("support") as client:
        client.select_folder("INBOX")
        added = [u for u in client.search(["UID", f"{before + 1}:*"]) if u > before]
        if added:
            client.delete_messages(added)
            client.uid_expunge(added)


def wait_for_report(servers: MailServers, envid: str, timeout: float = 20) -> None:
    """Until a report for ``envid`` sits in support@'s INBOX (Postfix delivers it asynchronously)."""
    deadline = time.monotonic() + timeout
    with servers.imap("support") as client:
        client.select_folder("INBOX", readonly=True)
        while not client.search(["HEADER", "Content-Type", "report", "BODY", envid]):
            assert time.monotonic() < deadline, f"no report for {envid}:\n{servers.postfix.log_tail()}"
            time.sleep(0.2)
            client.noop()


def states(basedir: Path, history_id: int) -> dict[str, dict[str, object]]:
    return {s["recipient"]: s for s in json.loads(ok(basedir, "track", "show", str(history_id), "--json"))}


def test_bounce_turns_the_entry_to_failed_and_success_to_delivered(
    tmp_path: Path, mail_servers: MailServers, memory_keyring: MemoryKeyring, support_inbox_restored: None
) -> None:
    setup_profile(tmp_path, mail_servers, "alice")
    add_support(tmp_path, "send-as")
    gone = mail_servers.postfix.gone_address
    ok(tmp_path, "send", "--from", SUPPORT, "--to", gone, "--to", "dana@customer.test", "--dsn",
       "--subject", "Your refund", "--body", "It is on its way.")  # fmt: skip
    entry = history(tmp_path)[0]
    history_id = int(entry["id"])  # type: ignore[call-overload]
    assert states(tmp_path, history_id) == {}  # nothing yet
    wait_for_report(mail_servers, f"sc{history_id}")
    mail_servers.postfix.wait_idle()
    time.sleep(0.5)
    wait_for_report(mail_servers, f"sc{history_id}")

    # A plain sync of the shared INBOX finds and records the reports (``track scan`` is the manual way).
    ok(tmp_path, "sync", f"work:{SUPPORT_INBOX}")
    deadline = time.monotonic() + 20
    while len(found := states(tmp_path, history_id)) < 2:  # the two reports may arrive one after the other
        assert time.monotonic() < deadline, found
        time.sleep(0.5)
        ok(tmp_path, "track", "scan", f"work:{SUPPORT_INBOX}")
    assert found[gone]["state"] == "failed"
    assert found[gone]["status"] == "5.1.1"
    assert "550 5.1.1" in str(found[gone]["diagnostic"]) and gone in str(found[gone]["diagnostic"])
    assert found["dana@customer.test"]["state"] == "delivered"
    shown = ok(tmp_path, "track", "show", str(history_id))
    assert "1 delivered, 1 failed (5.1.1)" in shown

    # Scanning again records nothing twice and changes nothing.
    again = ok(tmp_path, "track", "scan", f"work:{SUPPORT_INBOX}")
    assert again.startswith("0 report(s) recorded")
    assert states(tmp_path, history_id) == found


def test_a_message_without_dsn_gets_no_report(
    tmp_path: Path, mail_servers: MailServers, memory_keyring: MemoryKeyring
) -> None:
    setup_profile(tmp_path, mail_servers, "alice")
    ok(tmp_path, "send", "--from", "alice@example.test", "--to", "dana@customer.test", "--subject", "No DSN",
       "--body", "plain")  # fmt: skip
    history_id = int(history(tmp_path)[0]["id"])  # type: ignore[call-overload]
    mail_servers.postfix.wait_idle()
    ok(tmp_path, "sync", "work:INBOX")
    assert states(tmp_path, history_id) == {}


def test_a_read_receipt_for_a_message_sent_as_support_is_recorded(
    tmp_path: Path, mail_servers: MailServers, memory_keyring: MemoryKeyring, support_inbox_restored: None
) -> None:
    setup_profile(tmp_path, mail_servers, "alice")
    add_support(tmp_path, "send-as")
    ok(tmp_path, "send", "--from", SUPPORT, "--to", "dana@customer.test", "--receipt", "--subject", "Contract",
       "--body", "Please confirm you got it.")  # fmt: skip
    entry = history(tmp_path)[0]
    delivered = wait_for(mail_servers, "sink", "INBOX", str(entry["message_id"]))
    assert parse(delivered)["Disposition-Notification-To"] == SUPPORT
    # Dana's mail program answers the request (here: SharedClient's own MDN builder, as Dana).
    dana = Identity("dana@customer.test", "Dana", "x")
    receipt = build_receipt(delivered, dana, dana)
    assert receipt.recipients == (SUPPORT,)
    mail_servers.dovecot.deliver(SUPPORT, receipt.raw)
    ok(tmp_path, "sync", f"work:{SUPPORT_INBOX}")
    found = states(tmp_path, int(entry["id"]))  # type: ignore[call-overload]
    assert found["dana@customer.test"]["kind"] == "mdn" and found["dana@customer.test"]["state"] == "displayed"
    assert ok(tmp_path, "track", "show", str(entry["id"])).startswith(f"#{entry['id']} “Contract” to dana@customer.test: read")
