"""SMTP replies → permission / recipient / transient decisions and plain sentences."""

from __future__ import annotations

import pytest

from sharedclient.core.errors import SenderRefused
from sharedclient.core.model import SendMode
from sharedclient.core.smtp import dsn_options
from sharedclient.core.smtp_replies import (
    Stage,
    enhanced_code,
    is_sender_refusal,
    recipients_refused,
    refused,
    sender_refused,
)

POSTFIX = "5.7.1 <support@example.test>: Sender address rejected: not owned by user bob@example.test"
EXCHANGE = "5.7.60 SMTP; Client does not have permissions to send as this sender"


@pytest.mark.parametrize(
    ("stage", "code", "text", "expected"),
    [
        (Stage.RCPT, 553, POSTFIX, True),  # Postfix, smtpd_delay_reject=yes (default)
        (Stage.MAIL, 553, POSTFIX, True),  # Postfix, smtpd_delay_reject=no
        (Stage.END, 550, EXCHANGE, True),  # Exchange / Microsoft 365 after DATA
        (Stage.END, 554, "5.7.1 SendAsDenied; alice@x not allowed to send as support@x", True),
        (Stage.MAIL, 550, "5.7.1 Sender not authorized", True),
        (Stage.MAIL, 552, "5.3.4 Message size exceeds fixed limit", False),
        (Stage.MAIL, 501, "5.5.4 Syntax error", False),
        (Stage.RCPT, 550, "5.1.1 <x@example.test>: Recipient address rejected: User unknown", False),
        (Stage.RCPT, 451, "4.3.0 <support@x>: Sender address rejected: try later", False),  # 4xx: transient
        (Stage.END, 554, "5.7.1 Message rejected as spam", False),
    ],
)
def test_sender_refusal_classification(stage: Stage, code: int, text: str, expected: bool) -> None:
    assert is_sender_refusal(stage, code, text) is expected


def test_sentences_name_the_address_and_quote_the_server() -> None:
    err = sender_refused(Stage.RCPT, 553, POSTFIX, identity_address="support@example.test", mode=SendMode.SEND_AS,
                         envelope_from="support@example.test")
    assert isinstance(err, SenderRefused) and err.permanent
    assert err.user_message == f"support@example.test requires Send As permission; the server refused: 553 {POSTFIX}"
    ob = sender_refused(Stage.END, 550, EXCHANGE, identity_address="support@example.test", mode=SendMode.ON_BEHALF,
                        envelope_from="bob@example.test")
    assert "on behalf of support@example.test" in ob.user_message and "bob@example.test" in ob.user_message
    assert ob.smtp_reply == f"550 {EXCHANGE}"


def test_recipient_refusals_are_listed_and_classified() -> None:
    err = recipients_refused({"a@x.test": (550, "5.1.1 unknown"), "b@x.test": (450, "4.2.0 mailbox busy")})
    assert not err.permanent and "2 recipients" in err.user_message and "b@x.test (450 4.2.0 mailbox busy)" in err.user_message
    assert err.refused == {"a@x.test": "550 5.1.1 unknown", "b@x.test": "450 4.2.0 mailbox busy"}
    one = recipients_refused({"a@x.test": (550, "5.1.1 unknown")})
    assert one.permanent and one.user_message.startswith("The server refused the recipient a@x.test: 550 5.1.1 unknown.")


def test_other_replies() -> None:
    assert not refused(Stage.DATA, 421, "4.7.0 Try again later, closing connection").permanent
    err = refused(Stage.END, 552, "5.3.4 Message too big")
    assert err.permanent and err.user_message == "The server refused the message: 552 5.3.4 Message too big"
    assert enhanced_code("5.7.60 SMTP; nope") == (5, 7, 60) and enhanced_code("Ok") is None


class _Conn:
    def __init__(self, dsn: bool) -> None:
        self.dsn = dsn

    def has_extn(self, name: str) -> bool:
        return self.dsn and name == "dsn"


def test_dsn_only_when_offered_and_asked() -> None:
    assert dsn_options(_Conn(True), "sc42") == (["RET=HDRS", "ENVID=sc42"], ["NOTIFY=SUCCESS,FAILURE,DELAY"])  # type: ignore[arg-type]
    assert dsn_options(_Conn(False), "sc42") == ([], [])  # type: ignore[arg-type]
    assert dsn_options(_Conn(True), None) == ([], [])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        dsn_options(_Conn(True), "a+b")  # type: ignore[arg-type]
