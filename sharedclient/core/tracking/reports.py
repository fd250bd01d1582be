"""Recognising delivery reports (RFC 3464) and read receipts (RFC 8098) with the stdlib ``email`` package.

Both arrive as ``multipart/report``: a human-readable part, a machine-readable part (``message/delivery-status``
or ``message/disposition-notification``) and the original's headers. Only the machine-readable fields are
trusted for the status; the human text is for people. Anything malformed yields ``None`` (the message is
then just mail), never an exception: a report is written by a foreign server and may be broken.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message
from email.utils import parsedate_to_datetime

#: DSN Action (RFC 3464 §2.3.3) -> our per-recipient state. "relayed"/"expanded": handed on to a system that
#: does not report further, i.e. accepted for delivery but without final confirmation.
ACTIONS = {"delivered": "delivered", "failed": "failed", "delayed": "delayed", "relayed": "relayed", "expanded": "relayed"}


@dataclass(frozen=True)
class RecipientResult:
    recipient: str  # the original recipient where given, else the final one (bare address, lower case)
    state: str  # delivered / failed / delayed / relayed   (DSN)   or the disposition type (MDN)
    status: str = ""  # "5.1.1"
    diagnostic: str = ""  # "smtp; 550 5.1.1 <x@y>: User doesn't exist" without the "smtp;" type


@dataclass(frozen=True)
class Report:
    """One parsed report. ``kind`` is "dsn" or "mdn"."""

    kind: str
    envid: str
    original_message_id: str
    reporter: str  # Reporting-MTA / Reporting-UA
    time: float | None
    results: tuple[RecipientResult, ...]
    message_id: str = ""  # the report's own Message-ID


_ADDR_TYPE = re.compile(r"^\s*[A-Za-z0-9-]+\s*;\s*")


def _value(block: Message, name: str) -> str:
    value = block.get(name)
    return " ".join(str(value).split()) if value is not None else ""


def _address(text: str) -> str:
    """``rfc822; Bob <bob@x>`` -> ``bob@x``."""
    text = _ADDR_TYPE.sub("", text).strip()
    m = re.search(r"<([^<>]+)>", text)
    return (m.group(1) if m else text).strip().lower()


def _typed(text: str) -> str:
    """Drop the ``smtp;`` type of a Diagnostic-Code / ``dns;`` of a Reporting-MTA."""
    return _ADDR_TYPE.sub("", text).strip()


def _time(text: str) -> float | None:
    try:
        return parsedate_to_datetime(text).timestamp() if text else None
    except (TypeError, ValueError, IndexError):
        return None


def _blocks(part: Message) -> list[Message]:
    """The header blocks of a machine-readable part (the email package parses them as sub-messages)."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    if isinstance(payload, str):  # unusual transfer encoding: parse the decoded text ourselves
        raw = part.get_payload(decode=True) or b""
        text = raw.decode("utf-8", "replace").replace("\r\n", "\n")
        return [email.message_from_string(chunk + "\n") for chunk in re.split(r"\n\s*\n", text) if chunk.strip()]
    return []


def _original_message_id(parts: Iterable[Message]) -> str:
    for part in parts:
        ctype = part.get_content_type()
        if ctype in ("text/rfc822-headers", "message/rfc822-headers"):
            raw = part.get_payload(decode=True) or str(part.get_payload()).encode()
            headers = email.message_from_bytes(raw)
            return _value(headers, "Message-ID")
        if ctype in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            if isinstance(inner, list) and inner:
                return _value(inner[0], "Message-ID")
    return ""


def parse_report(raw: bytes) -> Report | None:
    """A delivery report or read receipt found in ``raw``, or None when it is neither (or unreadable)."""
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception:  # noqa: BLE001 - foreign input; the stdlib parser is lenient but not infallible
        return None
    if msg.get_content_type() != "multipart/report" or not msg.is_multipart():
        return None
    report_type = (msg.get_param("report-type") or "").lower()  # type: ignore[union-attr]
    parts = [p for p in msg.get_payload() if isinstance(p, Message)]  # type: ignore[union-attr]
    own_id = _value(msg, "Message-ID")
    if report_type == "delivery-status":
        return _dsn(parts, own_id)
    if report_type == "disposition-notification":
        return _mdn(parts, own_id)
    return None


def _dsn(parts: list[Message], own_id: str) -> Report | None:
    status_part = next((p for p in parts if p.get_content_type() in ("message/delivery-status", "message/global-delivery-status")), None)
    if status_part is None:
        return None
    blocks = _blocks(status_part)
    if len(blocks) < 2:
        return None
    head, per_recipient = blocks[0], blocks[1:]
    results = []
    for block in per_recipient:
        action = _value(block, "Action").lower()
        recipient = _address(_value(block, "Original-Recipient") or _value(block, "Final-Recipient"))
        if action not in ACTIONS or not recipient:
            continue
        results.append(RecipientResult(recipient, ACTIONS[action], _value(block, "Status"), _typed(_value(block, "Diagnostic-Code"))))
    if not results:
        return None
    return Report(
        kind="dsn",
        envid=_value(head, "Original-Envelope-Id"),
        original_message_id=_original_message_id(parts),
        reporter=_typed(_value(head, "Reporting-MTA")),
        time=_time(_value(per_recipient[0], "Last-Attempt-Date")) or _time(_value(head, "Arrival-Date")),
        results=tuple(results),
        message_id=own_id,
    )


def _mdn(parts: list[Message], own_id: str) -> Report | None:
    part = next((p for p in parts if p.get_content_type() in ("message/disposition-notification", "message/global-disposition-notification")), None)
    if part is None:
        return None
    fields: dict[str, str] = {}
    for block in _blocks(part):
        for name in block.keys():
            fields.setdefault(name.lower(), _value(block, name))
    disposition = fields.get("disposition", "")
    # "manual-action/MDN-sent-manually; displayed" -> "displayed" (modifiers after "/" dropped)
    kind = disposition.rpartition(";")[2].strip().split("/")[0].strip().lower()
    recipient = _address(fields.get("original-recipient") or fields.get("final-recipient", ""))
    msgid = fields.get("original-message-id") or _original_message_id(parts)
    if not kind or not recipient or not msgid:
        return None
    return Report(
        kind="mdn", envid="", original_message_id=msgid, reporter=_typed(fields.get("reporting-ua", "")),
        time=None, results=(RecipientResult(recipient, kind, "", disposition),), message_id=own_id,
    )  # fmt: skip


def describe(report: Report) -> str:
    """One line for the message view: what the report says, per recipient."""
    if report.kind == "mdn":
        r = report.results[0]
        return f"Read receipt: {r.recipient} — {r.state}."
    bits = []
    for r in report.results:
        text = f"{r.recipient}: {r.state}"
        if r.state in ("failed", "delayed") and (r.diagnostic or r.status):
            text += f" ({r.diagnostic or r.status})"
        bits.append(text)
    return "Delivery report: " + "; ".join(bits) + "."
