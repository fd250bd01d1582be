"""Turning SMTP replies into the sentence a desk worker reads, and into retry decisions.

Where permission problems show up differs by server, so classification looks at the stage *and* the words:

* Postfix ``reject_sender_login_mismatch`` with the default ``smtpd_delay_reject=yes`` answers at RCPT:
  ``553 5.7.1 <support@x>: Sender address rejected: not owned by user bob@x`` (every recipient gets the
  same refusal); with ``smtpd_delay_reject=no`` the same text comes at MAIL FROM.
* Exchange / Microsoft 365 check the From header after DATA: ``550 5.7.60 SMTP; Client does not have
  permissions to send as this sender`` (``SendAsDenied``).

4xx replies and broken connections are transient (retry later); 5xx are permanent (the same bytes would be
refused again).
"""

from __future__ import annotations

import re
from enum import Enum

from sharedclient.core.errors import RecipientsRefused, SenderRefused, SendError
from sharedclient.core.model import SendMode

_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})(?!\S)")


class Stage(str, Enum):
    MAIL = "MAIL FROM"
    RCPT = "RCPT TO"
    DATA = "DATA"
    END = "end of message"


def enhanced_code(text: str) -> tuple[int, int, int] | None:
    """The RFC 3463 status code at the start of a reply text ("5.7.1 …" → (5, 7, 1))."""
    m = _ENHANCED.match(text)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def reply_text(code: int, message: bytes | str) -> str:
    """``553 5.7.1 <a@b>: …`` on one line, as the server said it."""
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return f"{code} {' '.join(text.split())}".strip()


def is_sender_refusal(stage: Stage, code: int, text: str) -> bool:
    """Did the server refuse because this login may not use this sender address?"""
    if code < 500:
        return False
    low = text.lower()
    enh = enhanced_code(text)
    if "sendasdenied" in low or enh == (5, 7, 60):
        return True
    if "sender address rejected" in low or "not owned by" in low or "send as" in low:
        return True
    if stage is Stage.MAIL:
        # At MAIL FROM only the sender is judged; 5.3.4 (too big) and 5.5.x (syntax) are not about permission.
        return enh is None or (enh[1] in (1, 7) and enh[:2] != (5, 5))
    if stage is Stage.END and enh is not None and enh[1] == 7:
        return any(word in low for word in ("sender", "from", "permission", "on behalf"))
    return False


def sender_refusal_sentence(identity_address: str, mode: SendMode, envelope_from: str, reply: str) -> str:
    if mode is SendMode.SEND_AS:
        return f"{identity_address} requires Send As permission; the server refused: {reply}"
    if mode is SendMode.ON_BEHALF:
        return (
            f"Sending on behalf of {identity_address} needs the server to accept your own address "
            f"{envelope_from} as sender (and, on Exchange, Send on Behalf permission); the server refused: {reply}"
        )
    return f"The server does not accept {identity_address} as a sender for this login; the server refused: {reply}"


def sender_refused(
    stage: Stage, code: int, text: str, *, identity_address: str, mode: SendMode, envelope_from: str
) -> SenderRefused:
    reply = reply_text(code, text)
    return SenderRefused(
        sender_refusal_sentence(identity_address, mode, envelope_from, reply), smtp_reply=reply, permanent=True
    )


def recipients_refused(refused: dict[str, tuple[int, str]]) -> RecipientsRefused:
    """All refused recipients in one sentence; permanent only if every refusal was 5xx."""
    replies = {addr: reply_text(code, text) for addr, (code, text) in refused.items()}
    permanent = all(code >= 500 for code, _ in refused.values())
    if len(replies) == 1:
        (addr, reply), = replies.items()
        sentence = f"The server refused the recipient {addr}: {reply}"
    else:
        listed = "; ".join(f"{addr} ({reply})" for addr, reply in replies.items())
        sentence = f"The server refused {len(replies)} recipients: {listed}"
    sentence += (
        ". Nothing was sent; correct or remove the address and send again."
        if permanent
        else ". Nothing was sent yet; it will be tried again."
    )
    return RecipientsRefused(sentence, replies, smtp_reply="; ".join(replies.values()), permanent=permanent)


def refused(stage: Stage, code: int, text: str) -> SendError:
    """Any other non-success reply."""
    reply = reply_text(code, text)
    if code < 500:
        return SendError(
            f"The server asked to try again later ({reply}); the message stays in the outbox and is retried.",
            smtp_reply=reply,
            permanent=False,
        )
    what = "the message" if stage in (Stage.DATA, Stage.END) else f"the {stage.value} command"
    return SendError(f"The server refused {what}: {reply}", smtp_reply=reply, permanent=True)
