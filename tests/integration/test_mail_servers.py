"""The real-server harness itself: TLS, namespaces, ACL rights, send-as rules, sink and DSN.

These tests pin the server behaviour the client code relies on, so a failure here means the harness (or a
Dovecot/Postfix upgrade) changed the ground rules, not that the client broke. IMAP tests use
``imap_server`` (Dovecot only, runs without root too); submission tests need ``mail_servers`` (root).
"""

from __future__ import annotations

import email
import email.policy
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import make_msgid
from typing import TYPE_CHECKING

import imapclient.exceptions
import pytest
from imapclient import IMAPClient

from sharedclient.devservers.dovecot import MailUser

if TYPE_CHECKING:  # conftest is loaded by pytest as a plugin; importing it at run time would load it twice
    from tests.conftest import ImapServer, MailServers

DOMAIN = "example.test"


def addr(name: str) -> str:
    return f"{name}@{DOMAIN}"


SUPPORT_INBOX = f"shared/{addr('support')}/INBOX"
SALES_INBOX = f"shared/{addr('sales')}/INBOX"


def myrights(client: IMAPClient, folder: str) -> set[str]:
    """MYRIGHTS (RFC 4314); imapclient has no wrapper, imaplib does."""
    typ, data = client._imap.myrights(client._normalise_folder(folder))
    assert typ == "OK", data
    return set(data[0].decode().rsplit(" ", 1)[1])


def wait_for_message(servers: ImapServer, user: str, folder: str, msgid: str, timeout: float = 10) -> bytes:
    """Poll ``folder`` of ``user`` until the message with ``msgid`` is there; return its raw bytes."""
    with servers.imap(user) as client:
        client.select_folder(folder, readonly=True)
        deadline = time.monotonic() + timeout
        while True:
            uids = client.search(["HEADER", "Message-ID", msgid])
            if uids:
                return client.fetch(uids[-1:], ["BODY.PEEK[]"])[uids[-1]][b"BODY[]"]
            if time.monotonic() > deadline:
                raise AssertionError(f"{msgid} did not arrive in {user}'s {folder} within {timeout} s")
            time.sleep(0.1)
            client.noop()


def has_message(servers: ImapServer, user: str, folder: str, msgid: str) -> bool:
    with servers.imap(user) as client:
        client.select_folder(folder, readonly=True)
        return bool(client.search(["HEADER", "Message-ID", msgid]))


def compose(sender: str, to: str, subject: str) -> tuple[EmailMessage, str]:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msgid = make_msgid(domain=DOMAIN)
    msg["Message-ID"] = msgid
    msg.set_content("Test body.\n")
    return msg, msgid


# ---------------------------------------------------------------------- IMAP


def test_implicit_tls_login_verifies_against_the_session_ca(imap_server: ImapServer) -> None:
    with imap_server.imap("alice") as client:
        assert client.noop()
    untrusted = ssl.create_default_context()  # system CAs only: the throwaway CA is not among them
    with pytest.raises(ssl.SSLCertVerificationError):
        IMAPClient(imap_server.dovecot.host, port=imap_server.dovecot.imap_tls_port, ssl_context=untrusted)


def test_starttls_login(imap_server: ImapServer) -> None:
    with imap_server.imap("alice", starttls=True) as client:
        assert b"ACL" in client.capabilities()


def test_plain_port_disables_login_before_starttls(imap_server: ImapServer) -> None:
    dovecot = imap_server.dovecot
    if dovecot.strict_host is None:
        pytest.skip("127.0.0.2 is not usable here; Dovecot treats 127.0.0.1 clients as secured")
    client = IMAPClient(dovecot.strict_host, port=dovecot.imap_port, ssl=False, timeout=10)
    try:
        before = client.capabilities()
        assert b"STARTTLS" in before and b"LOGINDISABLED" in before
        client.starttls(imap_server.ssl_context())
        client.login(addr("alice"), imap_server.users["alice"].password)
    finally:
        client.logout()


def test_capabilities_after_login(imap_server: ImapServer) -> None:
    with imap_server.imap("alice") as client:
        caps = set(client.capabilities())
    wanted = {b"CONDSTORE", b"QRESYNC", b"IDLE", b"SPECIAL-USE", b"ACL", b"NAMESPACE", b"MOVE", b"UIDPLUS"}
    assert wanted <= caps


def test_namespaces(imap_server: ImapServer) -> None:
    with imap_server.imap("alice") as client:
        ns = client.namespace()
    assert [tuple(n) for n in ns.personal] == [("", "/")]
    assert [tuple(n) for n in ns.other] == [("shared/", "/")]
    assert [tuple(n) for n in ns.shared] == [("Public/", "/")]


def test_alice_has_full_rights_on_support(imap_server: ImapServer) -> None:
    with imap_server.imap("alice") as client:
        names = {name for _, _, name in client.list_folders()}
        assert {SUPPORT_INBOX, f"shared/{addr('support')}/Sent", SALES_INBOX} <= names
        rights = myrights(client, SUPPORT_INBOX)
        assert {"a", "t", "i", "w", "s"} <= rights
        assert myrights(client, SALES_INBOX) == {"l", "r", "s"}
        assert client.select_folder(SUPPORT_INBOX, readonly=True)[b"EXISTS"] >= 10


def test_bob_reads_support_only(imap_server: ImapServer) -> None:
    with imap_server.imap("bob") as client:
        names = {name for _, _, name in client.list_folders()}
        assert SUPPORT_INBOX in names
        assert myrights(client, SUPPORT_INBOX) == {"l", "r", "s"}
        assert {"i", "w", "t", "e", "k", "x"} <= myrights(client, SALES_INBOX)
        assert "a" not in myrights(client, SALES_INBOX)


def test_carol_does_not_see_shared_mailboxes(imap_server: ImapServer) -> None:
    with imap_server.imap("carol") as client:
        names = {name for _, _, name in client.list_folders()}
        assert not any(name.startswith("shared/") for name in names)
        with pytest.raises(imapclient.exceptions.IMAPClientError):
            client.select_folder(SUPPORT_INBOX)


def test_special_use_only_in_personal_namespace(imap_server: ImapServer) -> None:
    with imap_server.imap("alice") as client:
        flags = {name: set(f) for f, _, name in client.list_folders()}
    assert b"\\Sent" in flags["Sent"]
    assert {b"\\Drafts", b"\\Trash", b"\\Junk", b"\\Archive"} <= set().union(*flags.values())
    # Known Dovecot behaviour the client must handle by name: no \Sent through the shared namespace.
    assert b"\\Sent" not in flags[f"shared/{addr('support')}/Sent"]


def test_public_announcements(imap_server: ImapServer) -> None:
    with imap_server.imap("carol") as client:
        assert client.select_folder("Public/Announcements", readonly=True)[b"EXISTS"] >= 1
        assert myrights(client, "Public/Announcements") == {"l", "r", "s"}


def test_wrong_imap_password_is_refused(imap_server: ImapServer) -> None:
    client = IMAPClient(
        imap_server.dovecot.host, port=imap_server.dovecot.imap_tls_port, ssl_context=imap_server.ssl_context()
    )
    try:
        with pytest.raises(imapclient.exceptions.LoginError):
            client.login(addr("alice"), "not-the-password")
    finally:
        client.logout()


# ---------------------------------------------------------------------- Postfix


def test_submission_requires_starttls_before_auth(mail_servers: MailServers) -> None:
    with smtplib.SMTP(mail_servers.postfix.host, mail_servers.postfix.submission_port, timeout=10) as conn:
        conn.ehlo()
        assert conn.has_extn("starttls") and not conn.has_extn("auth")
        code, _ = conn.mail(addr("alice"))
        assert code == 530


def test_alice_sends_as_support(mail_servers: MailServers) -> None:
    msg, msgid = compose(f"Support <{addr('support')}>", addr("carol"), "Send-as test")
    with mail_servers.smtp("alice") as conn:
        assert conn.has_extn("dsn")
        conn.send_message(msg, from_addr=addr("support"), to_addrs=[addr("carol")])
    raw = wait_for_message(mail_servers, "carol", "INBOX", msgid)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Return-Path"] == f"<{addr('support')}>"
    assert parsed["Delivered-To"] == addr("carol")


def test_bob_may_not_send_as_support(mail_servers: MailServers) -> None:
    msg, _ = compose(addr("support"), addr("carol"), "Not allowed")
    with mail_servers.smtp("bob") as conn:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
            conn.send_message(msg, from_addr=addr("support"), to_addrs=[addr("carol")])
    code, text = info.value.recipients[addr("carol")]
    assert code == 553
    assert text.startswith(b"5.7.1") and b"not owned by user bob@" in text


def test_other_domains_go_to_the_sink_only(mail_servers: MailServers) -> None:
    msg, msgid = compose(addr("alice"), "Someone <someone@customer.test>", "Leaves the building?")
    with mail_servers.smtp("alice", implicit_tls=True) as conn:
        conn.send_message(msg, from_addr=addr("alice"), to_addrs=["someone@customer.test"])
    raw = wait_for_message(mail_servers, "sink", "INBOX", msgid)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["X-Original-To"] == "someone@customer.test"
    assert parsed["Return-Path"] == f"<{addr('alice')}>"
    mail_servers.postfix.wait_idle()
    for user in ("alice", "bob", "carol", "support", "sales"):
        assert not has_message(mail_servers, user, "INBOX", msgid), user


def test_dsn_success_report_reaches_the_envelope_sender(mail_servers: MailServers) -> None:
    msg, msgid = compose(addr("alice"), addr("bob"), "Please confirm delivery")
    envid = msgid.strip("<>").split("@")[0]
    with mail_servers.smtp("alice") as conn:
        conn.send_message(
            msg,
            from_addr=addr("alice"),
            to_addrs=[addr("bob")],
            mail_options=["RET=HDRS", f"ENVID={envid}"],
            rcpt_options=["NOTIFY=SUCCESS"],
        )
    wait_for_message(mail_servers, "bob", "INBOX", msgid)
    with mail_servers.imap("alice") as client:
        client.select_folder("INBOX", readonly=True)
        deadline = time.monotonic() + 10
        while not (uids := client.search(["BODY", envid, "FROM", "MAILER-DAEMON"])):
            assert time.monotonic() < deadline, "no delivery report arrived"
            time.sleep(0.1)
            client.noop()
        raw = client.fetch(uids[-1:], ["BODY.PEEK[]"])[uids[-1]][b"BODY[]"]
    report = email.message_from_bytes(raw, policy=email.policy.default)
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "delivery-status"


def test_wrong_smtp_password_is_refused(mail_servers: MailServers) -> None:
    with smtplib.SMTP(mail_servers.postfix.host, mail_servers.postfix.submission_port, timeout=10) as conn:
        conn.starttls(context=mail_servers.ssl_context())
        with pytest.raises(smtplib.SMTPAuthenticationError) as info:
            conn.login(addr("alice"), "not-the-password")
    assert info.value.smtp_code == 535


def test_fresh_user_is_isolated(imap_server: ImapServer, fresh_user: MailUser) -> None:
    name = fresh_user.login.split("@")[0]
    imap_server.dovecot.deliver(fresh_user.login, b"From: x@customer.test\r\nSubject: hi\r\n\r\nhello\r\n")
    with imap_server.imap(name) as client:
        assert client.select_folder("INBOX", readonly=True)[b"EXISTS"] == 1
