"""Filling ``{customer_name}``-style placeholders of a canned response.

A placeholder that cannot be filled — unknown, misspelled, or known but without a value here (no
original message to take the customer from) — is left exactly as written and reported with its position,
so the composer can highlight it: the agent sees it before sending, it is never silently dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date as Date

from sharedclient.core.mime.reply import Original
from sharedclient.core.model import Identity

#: Every placeholder SharedClient knows, with what it is replaced by (for the picker's help text).
KNOWN: dict[str, str] = {
    "customer_name": "the customer's name (from the message being answered)",
    "customer_email": "the customer's address",
    "agent_name": "your name",
    "identity_name": "the name of the address you send from",
    "original_subject": "the subject of the message being answered",
    "date": "today's date",
}
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Unfilled:
    """A placeholder left in the text: where (character offsets in the filled text) and why."""

    start: int
    end: int
    name: str
    reason: str


@dataclass(frozen=True)
class Filled:
    text: str
    unfilled: tuple[Unfilled, ...] = field(default=())

    def summary(self) -> str:
        """One sentence for the composer's status line ("" when everything was filled)."""
        if not self.unfilled:
            return ""
        parts = []
        for item in self.unfilled:
            text = f"{{{item.name}}} ({item.reason})"
            if text not in parts:
                parts.append(text)
        return "Left as written, please fill in: " + "; ".join(parts) + "."


def format_date(day: Date) -> str:
    """"27 November 2026": unambiguous in every country, unlike 11/27/2026."""
    return f"{day.day} {day.strftime('%B %Y')}"


def customer_of(original: Original, own: set[str]) -> tuple[str, str]:
    """(name, address) of the customer: whoever the answer goes to (Reply-To, else From; the To of our own mail)."""
    if original.from_ and original.from_[0].addr_spec.lower() in own:
        people = original.to
    else:
        people = original.reply_to or original.from_
    if not people:
        return "", ""
    first = people[0]
    return first.display_name, first.addr_spec


def context_for(
    original: Original | None, identity: Identity | None, agent: Identity | None, today: Date
) -> dict[str, str]:
    """Values for the known placeholders; a missing value is an empty string (then left unfilled)."""
    own = {a.lower() for a in ((identity.address, *identity.aliases) if identity else ())}
    name, address = customer_of(original, own) if original is not None else ("", "")
    return {
        "customer_name": name,
        "customer_email": address,
        "agent_name": (agent.name if agent else "") or "",
        "identity_name": (identity.name or identity.address) if identity else "",
        "original_subject": original.subject if original is not None else "",
        "date": format_date(today),
    }


_MISSING = {
    "customer_name": "the customer's name is not known",
    "customer_email": "no message is being answered",
    "agent_name": "your identity has no display name",
    "identity_name": "no sender is chosen",
    "original_subject": "no message is being answered",
    "date": "no date",
}


def fill(text: str, values: dict[str, str]) -> Filled:
    """Replace known placeholders that have a value; keep and report every other ``{name}``."""
    out: list[str] = []
    unfilled: list[Unfilled] = []
    pos = 0
    length = 0
    for match in _PLACEHOLDER.finditer(text):
        before = text[pos : match.start()]
        out.append(before)
        length += len(before)
        name = match.group(1)
        value = values.get(name, "") if name in KNOWN else ""
        if value:
            out.append(value)
            length += len(value)
        else:
            reason = _MISSING.get(name, "no value here") if name in KNOWN else "unknown placeholder"
            if name == "customer_name" and not values.get("customer_email"):
                reason = _MISSING["customer_email"]
            unfilled.append(Unfilled(length, length + len(match.group(0)), name, reason))
            out.append(match.group(0))
            length += len(match.group(0))
        pos = match.end()
    out.append(text[pos:])
    return Filled("".join(out), tuple(unfilled))
