"""Deterministic, realistic mail for the demo and for tests: a small support team's inboxes.

``demo_messages(domain, mailbox, count, seed=..., now=...)`` returns RFC 5322 messages (bytes, CRLF) for
the ``support``, ``sales`` or ``personal`` mailbox of ``domain``. The mix is chosen to exercise what the
client must get right: encoded-word names in many scripts, quoted display names, multipart/alternative,
attachments (one with an RFC 2231 file name), threads (In-Reply-To/References pointing at the team's
earlier answer), mail that arrived through an alias (``X-Original-To: help@``), Cc's, and - in support -
one HTML mail with a remote image ``http://127.0.0.1:9/track.png`` to show remote-content blocking (port 9
never answers).

Rules that keep it safe and reproducible:

* Every outside address is in a reserved test domain (example.com/.org/.net, ``*.test``) and never in
  ``domain`` itself, so replies to "customers" are external for the demo's submission server (routed to
  its sink) instead of hitting unknown local users.
* Only ``random.Random`` seeded from (seed, mailbox, domain): same arguments, same bytes. Dates are spread
  over the 30 days before ``now`` (default: the current time, the only non-deterministic input).
* No ``Delivered-To``/``Return-Path``: the delivery agent adds those (the demo delivers over LMTP).
"""

from __future__ import annotations

import html
import random
import textwrap
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Protocol

from sharedclient.core.errors import UsageError

__all__ = ["MAILBOXES", "demo_desk_messages", "demo_messages", "seed_desk"]

MAILBOXES = ("support", "sales", "personal")
_ALIASES = {"support": "help", "sales": "quotes"}
_WINDOW = timedelta(days=30)
_REMOTE_IMAGE = "http://127.0.0.1:9/track.png"


@dataclass(frozen=True)
class _Person:
    name: str
    local: str
    domain: str  # for outsiders: a reserved domain; "" means the team's own domain
    utc_offset_min: int
    mailer: str  # "thunderbird" | "apple" | "outlook" | "web"
    company: str = ""
    given: str = ""  # how they sign and are greeted, when not the first word of ``name``

    @property
    def first(self) -> str:
        return self.given or self.name.split()[0]

    @property
    def signature(self) -> str:
        return " ".join(reversed(self.name.split(", "))) if ", " in self.name else self.name


_CUSTOMERS: tuple[_Person, ...] = (
    _Person("Zoë Müller", "zoe.mueller", "example.org", 60, "thunderbird", "Müller Feinkost GmbH"),
    _Person("José Álvarez", "jose.alvarez", "example.net", -360, "apple", "Álvarez y Hijos"),
    _Person("李雷", "li.lei", "example.com", 480, "outlook", "Hanmeimei Trading Co.", given="李雷"),
    _Person("Priyanka Deshmukh", "priyanka", "brightlane.test", 330, "web", "Brightlane Analytics"),
    _Person("Tom Becker", "t.becker", "northwind.test", 60, "outlook", "Northwind Traders"),
    _Person("Aoife Ní Bhriain", "aoife", "example.net", 0, "apple", "Cló Beag Press"),
    _Person("Margaret O'Connor", "moconnor", "example.com", -300, "web", "O'Connor Dental"),
    _Person("Lars Søndergaard", "lars", "fjord-logistics.test", 60, "thunderbird", "Fjord Logistics"),
    _Person("Chloé Dubois", "chloe.dubois", "example.org", 60, "apple", "Atelier Dubois"),
    _Person("Дмитрий Иванов", "d.ivanov", "example.net", 180, "thunderbird", "Sever Systems"),
    _Person("Sarah Kim", "sarah.kim", "example.com", -480, "web", "Kim & Park Architects"),
    _Person("Ahmed Hassan", "ahmed.hassan", "example.org", 120, "outlook", "Nile Craft Supplies"),
    _Person("Nguyễn Thị Mai", "mai.nguyen", "example.com", 420, "web", "Saigon Bloom", given="Mai"),
    _Person("Carter, Ben", "ben.carter", "acme-widgets.test", -300, "outlook", "Acme Widgets", given="Ben"),
)
_COLLEAGUES: tuple[_Person, ...] = (
    _Person("Priya Raman", "priya.raman", "", 330, "thunderbird"),
    _Person("Jonas Weiß", "jonas.weiss", "", 60, "thunderbird"),
    _Person("Mei Chen", "mei.chen", "", 480, "apple"),
    _Person("Óscar Ruiz", "oscar.ruiz", "", 60, "outlook"),
    _Person("Sam Taylor", "sam.taylor", "", -300, "web"),
)
_PRODUCTS = ("Aurora desk lamp", "Nimbus office chair", "Helix standing desk", "Pebble keyboard", "Lumen monitor arm")
_PLANS = ("Team", "Business", "Enterprise")
_FALLBACK_DOMAINS = ("example.net", "example.org", "customers.test")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")  # not strftime("%B"): that follows the process locale


@dataclass(frozen=True)
class _Template:
    subject: str
    paragraphs: tuple[str, ...]
    attachment: str | None = None  # "pdf" | "pdf-de" | "form" | "csv" | "txt" | "tickets"
    greeting: str | None = None  # None: pick a generic one
    closing: str | None = None  # None: pick a generic one
    senders: tuple[str, ...] = ()  # local parts of the people who would write this (e.g. in German)


# Placeholders: see _Generator._values ({day} is a few days before the message, {soon} a few days after).
_SUPPORT = (
    _Template("Order #{order} arrived damaged", (
        "my order #{order} was delivered this morning, but the box was crushed and the {product} inside has a "
        "cracked base. I've kept the packaging and can send photos if that helps.",
        "Could you send a replacement? I'd rather not wait for a refund, we need it for the office next week.",
    )),
    _Template("Cannot reset my password", (
        "I've tried to reset my password three times today. The reset link in the email says it has expired "
        "even when I click it right away.",
        "My username is {email}. Is there anything you can do on your side?",
    )),
    _Template("Refund request for order #{order}", (
        "I returned the {product} from order #{order} two weeks ago (tracking says it arrived at your "
        "warehouse on {day}), but I haven't seen the refund of {amount} yet.",
        "Can you check where it is?",
    )),
    _Template("Invoice {invoice} – wrong VAT number", (
        "the attached invoice {invoice} shows our old VAT number. Our accountant needs a corrected copy "
        "before the end of the month.",
        "The correct VAT ID is on our letterhead, same as on all previous orders. Thanks!",
    ), attachment="pdf"),
    _Template("Where is my package? (order #{order})", (
        "the tracking page for order #{order} hasn't changed since {day}. It just says \"label created\".",
        "Has it actually shipped? We were promised delivery within five working days.",
    )),
    _Template("Charged twice this month", (
        "my card was charged {amount} twice on {day} for the {plan} plan. I only have one account as far as I "
        "know.",
        "Please refund the duplicate charge.",
    )),
    _Template("How do I export my data?", (
        "we're doing our yearly audit and need a full export of our order history, ideally as CSV.",
        "Is that possible from the dashboard, or do you have to do it for us?",
    )),
    _Template("Login code never arrives", (
        "the two-factor code by SMS never arrives on my phone. I've waited 10 minutes and tried four times.",
        "Is there another way to log in? I need to download an invoice today.",
    )),
    _Template("Wrong size delivered – exchange please", (
        "I ordered the large {product} but received the small one (order #{order}).",
        "How do I exchange it? Do you send a return label?",
    )),
    _Template("Cancel my subscription", (
        "please cancel our {plan} subscription at the end of the current billing period. We're consolidating "
        "tools after a merger.",
        "Thanks for the good service over the past years.",
    )),
    _Template("App crashes when uploading photos", (
        "the app closes as soon as I try to attach a photo to a return request. I've attached the log it "
        "wrote.",
        "Phone: Pixel 7, app version 4.12.1.",
    ), attachment="txt"),
    _Template("Rückerstattung für Bestellung #{order}", (
        "ich habe die Bestellung #{order} am {day} storniert, aber die Rückerstattung über {amount} ist noch "
        "nicht auf meinem Konto eingegangen.",
        "Die Rechnung hänge ich an. Können Sie bitte nachsehen?",
    ), attachment="pdf-de", greeting="Guten Tag,", closing="Viele Grüße", senders=("zoe.mueller", "t.becker")),
)
_SALES = (
    _Template("Request for quote: {qty} × {product}", (
        "we're refitting our new office and would like a quote for {qty} units of the {product}, delivered "
        "to one address.",
        "Could you include lead time and shipping? We'd need everything before the end of next month.",
    )),
    _Template("Volume pricing for {qty}+ seats", (
        "we're evaluating your {plan} plan for roughly {qty} users across three teams.",
        "Do you offer volume discounts at that size, and is annual billing cheaper than monthly?",
    )),
    _Template("Demo request – {company}", (
        "I lead operations at {company} and saw your product at a trade fair last month.",
        "Could we book a 30-minute demo next week? Tuesday or Thursday afternoon would work best for us.",
    )),
    _Template("Question about the {plan} plan", (
        "does the {plan} plan include single sign-on, or is that an add-on?",
        "We also need data stored in the EU. Is that possible on this plan?",
    )),
    _Template("Renewal quote for {company}", (
        "our contract renews on {day}. Could you send a renewal quote for the same number of seats?",
        "We may add {qty} more users later in the year, so pricing for that would help too.",
    )),
    _Template("Vendor registration form", (
        "before we can place an order our procurement team needs you registered as a supplier.",
        "Please fill in the attached form and send it back with a recent invoice sample.",
    ), attachment="form"),
    _Template("Discount for non-profits?", (
        "we're a registered charity with about {qty} volunteers who would use the tool.",
        "Do you have non-profit pricing? Happy to send our registration documents.",
    )),
    _Template("Pricing in EUR and payment by bank transfer", (
        "your price list is in USD. Can you quote in EUR and invoice us for payment by bank transfer?",
        "Our budget for this is around {amount} per month.",
    )),
    _Template("Seat list for our rollout", (
        "as discussed, here is the list of people who should get accounts in the first wave.",
        "Could you confirm the price for this number of seats?",
    ), attachment="csv"),
    _Template("Reseller partnership inquiry", (
        "{company} resells office equipment in our region and we'd like to add your {product} to our range.",
        "Who should we talk to about reseller terms?",
    )),
)
_PERSONAL = (
    _Template("Notes: weekly support sync {today}", (
        "notes from today, correct me if I missed something:",
        "- Backlog is down to 23 open tickets, oldest is 4 days.\n- Damaged-shipment replies: use the new macro, "
        "it includes the photo request.\n- Refunds over {amount} still need a second approval.",
        "Next sync same time next week.",
    ), greeting="Hi all,"),
    _Template("Can you cover sales@ on Friday?", (
        "I'm out on Friday afternoon. Could you keep an eye on the sales@ inbox? Nothing urgent is pending, "
        "but {company} may reply to our quote.",
    )),
    _Template("Lunch Thursday?", (
        "the new ramen place around the corner opened. Thursday at 12:30?",
    )),
    _Template("Handover: open tickets before my vacation", (
        "I'm away from Monday for two weeks. The attached list has the tickets I was working on and where "
        "each one stands.",
        "The escalation for order #{order} is the only one that needs attention before Wednesday.",
    ), attachment="tickets"),
    _Template("Escalation: order #{order}", (
        "the customer on order #{order} has written three times now. I've offered a replacement; if they "
        "insist on a refund of {amount}, that's fine with me.",
        "Can you take it from here? You have more context than I do.",
    )),
    _Template("1:1 agenda for {soon}", (
        "a few things for our 1:1:",
        "1. Shared Sent folder – are replies showing up for everyone now?\n2. Training plan for the new hire.\n"
        "3. Your holiday dates.",
    )),
    _Template("Reminder: update the reply macros", (
        "quick reminder to update the reply macros with the new returns address before the end of the week.",
    )),
)
_TEMPLATES = {"support": _SUPPORT, "sales": _SALES, "personal": _PERSONAL}

_GREETINGS = {
    "support": ("Hello,", "Hi,", "Dear Support Team,", "Hi there,", "Good morning,"),
    "sales": ("Hello,", "Hi,", "Dear Sales Team,", "Good afternoon,"),
    "personal": ("Hi {owner},", "Hey {owner},", "{owner},"),
}
_CLOSINGS = {
    "support": ("Thanks,", "Best regards,", "Kind regards,", "Thank you,", "Cheers,"),
    "sales": ("Best regards,", "Kind regards,", "Many thanks,", "Regards,"),
    "personal": ("Thanks,", "Cheers,", "Best,"),
}
_FOLLOWUPS = {
    "support": (
        "Thanks for the quick answer, that solved it.",
        "Unfortunately that didn't help. I still have the same problem.",
        "Thanks. Is there any update on this? It's been a few days.",
        "I did what you suggested, but now I get an error message. What should I do next?",
    ),
    "sales": (
        "Thanks for the quote. Could you also include installation?",
        "That looks good. Can you send the contract for signature?",
        "Thanks! Our CFO asked whether the price is fixed for two years.",
    ),
    "personal": (
        "Sounds good, thanks!",
        "Done, I've updated it.",
        "Can we move this to next week?",
    ),
}
_TEAM_ANSWERS = {
    "support": "thanks for reaching out. I've looked into this and have passed it on to our warehouse team. "
    "You should hear back within two working days.",
    "sales": "thanks for your interest! I've attached our current price list and am happy to set up a call.",
    "personal": "good point, let's discuss it tomorrow.",
}


def demo_messages(
    domain: str,
    mailbox: str,
    count: int,
    *,
    seed: int = 0,
    now: datetime | None = None,
    to: str | None = None,
) -> list[bytes]:
    """``count`` messages for ``mailbox`` ("support", "sales" or "personal") of ``domain``, oldest first.

    ``to`` is the mailbox's address; it defaults to ``<mailbox>@<domain>``, and for "personal" to
    ``alice@<domain>`` (the desk worker of our design notes). A naive ``now`` is taken as UTC.
    """
    if mailbox not in _TEMPLATES:
        raise UsageError(f"Unknown demo mailbox {mailbox!r}; use one of {', '.join(MAILBOXES)}.")
    if count < 0:
        raise UsageError("The number of demo messages cannot be negative.")
    domain = domain.lower()
    to = to or (f"alice@{domain}" if mailbox == "personal" else f"{mailbox}@{domain}")
    now = datetime.now(timezone.utc) if now is None else now
    now = now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now
    rng = random.Random(f"sharedclient-demo:{seed}:{mailbox}:{domain}")  # str seeds are stable across runs
    return _Generator(domain, mailbox, to, rng, now).run(count)


@dataclass(frozen=True)
class _Sent:
    """A generated message the sender can later follow up on."""

    person: _Person
    subject: str
    message_id: str
    date: datetime


class _Generator:
    def __init__(self, domain: str, mailbox: str, to: str, rng: random.Random, now: datetime) -> None:
        self.domain, self.mailbox, self.to, self.rng, self.now = domain, mailbox, to, rng, now
        people = _COLLEAGUES if mailbox == "personal" else _CUSTOMERS
        self.people = [self._localise(p) for p in people]
        self.owner = to.split("@")[0].split(".")[0].capitalize()
        self.used_ids: set[str] = set()
        self.decks: dict[str, list[int]] = {}

    def draw(self, key: str, size: int) -> int:
        """An index in ``range(size)`` from a shuffled deck: every item once before any repeats."""
        deck = self.decks.get(key)
        if not deck:
            deck = self.decks[key] = list(range(size))
            self.rng.shuffle(deck)
        return deck.pop()

    def run(self, count: int) -> list[bytes]:
        rng = self.rng
        window = int(_WINDOW.total_seconds())
        dates = sorted(self.now - timedelta(seconds=rng.randint(300, window)) for _ in range(count))
        slots = rng.sample(range(count), min(count, 3))  # guaranteed: remote image / attachment / HTML
        tracking = slots[0] if self.mailbox == "support" and slots else -1
        force_attach = slots[1] if len(slots) > 1 else -1
        force_html = slots[2] if len(slots) > 2 else -1
        originals: list[_Sent] = []
        out: list[bytes] = []
        for i, date in enumerate(dates):
            if i == tracking:
                msg = self._tracking(date)
            elif originals and i not in (force_attach, force_html) and rng.random() < 0.18:
                msg = self._followup(rng.choice(originals), date)
            else:
                html_part = i == force_html or rng.random() < 0.3
                msg, sent = self._new(date, attach=i == force_attach, html_part=html_part)
                originals.append(sent)
            out.append(self._serialise(msg))
        return out

    def _serialise(self, msg: EmailMessage) -> bytes:
        for part in msg.walk():
            if part is not msg:
                del part["MIME-Version"]  # add_attachment() leaves one on each part; real clients do not
            if part.is_multipart():
                # Otherwise the generator draws a boundary from the global RNG: not reproducible.
                part.set_boundary(f"=_sc_{self.rng.getrandbits(96):024x}")
        return msg.as_bytes(policy=policy.SMTP)

    # -- message kinds ---------------------------------------------------------------------------------

    def _new(self, date: datetime, *, attach: bool, html_part: bool) -> tuple[EmailMessage, _Sent]:
        rng = self.rng
        templates = _TEMPLATES[self.mailbox]
        if attach:
            template = rng.choice([t for t in templates if t.attachment])
        else:
            template = templates[self.draw("template", len(templates))]
        if template.senders:
            person = rng.choice([p for p in self.people if p.local in template.senders])
        else:
            person = self.people[self.draw("person", len(self.people))]
        values = self._values(person, date)
        subject = template.subject.format(**values)
        greeting = (template.greeting or rng.choice(_GREETINGS[self.mailbox])).format(**values)
        paragraphs = [p.format(**values) for p in template.paragraphs]
        closing = template.closing or rng.choice(_CLOSINGS[self.mailbox])
        signature = self._signature(person)
        msg = self._headers(person, subject, date)
        alias = _ALIASES.get(self.mailbox)
        if alias and rng.random() < 0.25:  # written to the alias, delivered to the shared mailbox
            msg.replace_header("To", f"{alias}@{self.domain}")
            msg["X-Original-To"] = f"{alias}@{self.domain}"
        if self.mailbox != "personal" and rng.random() < 0.12:
            msg["Cc"] = Address("Accounts Payable", "ap", person.domain)
        elif self.mailbox == "personal" and rng.random() < 0.3:
            other = rng.choice([p for p in self.people if p is not person])
            msg["Cc"] = Address(other.name, other.local, other.domain)
        plain = _plain(greeting, paragraphs, closing, signature)
        _set_text(msg, plain)
        if html_part:
            msg.add_alternative(_html(greeting, paragraphs, closing, signature), subtype="html",
                                cte="quoted-printable")
        if template.attachment:
            _attach(msg, template.attachment, values, rng)
        return msg, _Sent(person, subject, str(msg["Message-ID"]), date)

    def _followup(self, original: _Sent, date: datetime) -> EmailMessage:
        """The sender answers the team's reply (which sits in the team's Sent folder, not here)."""
        person = original.person
        team_id = self._message_id(self.domain)
        subject = original.subject if original.subject.lower().startswith("re:") else f"Re: {original.subject}"
        msg = self._headers(person, subject, date)
        msg["In-Reply-To"] = team_id
        msg["References"] = f"{original.message_id} {team_id}"
        if self.mailbox == "personal":
            team_name, team_address = self.owner, f"{self.owner} <{self.to}>"
        else:
            team_name, team_address = "Alice", f"{self.mailbox.capitalize()} Team <{self.mailbox}@{self.domain}>"
        answered = format_datetime((original.date + (date - original.date) / 2).astimezone(timezone.utc))
        answer = textwrap.fill(f"Hi {person.first}, {_TEAM_ANSWERS[self.mailbox]}", 70).splitlines()
        quote = "\n".join(f"> {line}" if line else ">" for line in [*answer, "", team_name])
        _set_text(msg, f"{self.rng.choice(_FOLLOWUPS[self.mailbox])}\n\n{person.first}\n\n"
                       f"On {answered}, {team_address} wrote:\n{quote}\n")
        return msg

    def _tracking(self, date: datetime) -> EmailMessage:
        """A carrier notification with a tracking pixel: the client must not load it unasked."""
        person = _Person("ParcelWay Notifications", "noreply", "parcelway.test", 0, "web")
        shipment = f"PW{self.rng.randint(10**9, 10**10 - 1)}DE"
        msg = self._headers(person, f"Delivery exception for shipment {shipment}", date)
        plain = (
            f"Your shipment {shipment} could not be delivered today: recipient not available.\n\n"
            "We will try again on the next working day. No action is needed.\n\n"
            "ParcelWay Customer Service\n"
        )
        _set_text(msg, plain)
        msg.add_alternative(
            "<!DOCTYPE html><html><body style=\"font-family:Arial,sans-serif\">"
            f"<h2 style=\"color:#c60\">Delivery exception</h2><p>Your shipment <b>{shipment}</b> could not be "
            "delivered today: <i>recipient not available</i>.</p><p>We will try again on the next working day. "
            "No action is needed.</p><p>ParcelWay Customer Service</p>"
            f"<img src=\"{_REMOTE_IMAGE}\" width=\"1\" height=\"1\" alt=\"\">"
            "</body></html>\n",
            subtype="html",
        )
        return msg

    # -- pieces ----------------------------------------------------------------------------------------

    def _headers(self, person: _Person, subject: str, date: datetime) -> EmailMessage:
        msg = EmailMessage(policy=policy.SMTP)
        msg["From"] = Address(person.name, person.local, person.domain)
        msg["To"] = self.to
        msg["Subject"] = subject
        sent_at = date.astimezone(timezone(timedelta(minutes=person.utc_offset_min)))
        msg["Date"] = format_datetime(sent_at)
        msg["Message-ID"] = self._message_id(person.domain, person.mailer)
        if person.mailer == "thunderbird":
            msg["User-Agent"] = "Mozilla Thunderbird"
        elif person.mailer == "apple":
            msg["X-Mailer"] = "Apple Mail (2.3774.600.62)"
        elif person.mailer == "outlook":
            msg["X-Mailer"] = "Microsoft Outlook 16.0"
        return msg

    def _message_id(self, domain: str, mailer: str = "thunderbird") -> str:
        while True:
            u = uuid.UUID(int=self.rng.getrandbits(128), version=4)
            if mailer == "apple":
                local = str(u).upper()
            elif mailer == "outlook":
                local = u.hex.upper()[:28]
            elif mailer == "web":
                local = f"{u.int % 10**13}.{u.hex[:10]}"
            else:
                local = str(u)
            message_id = f"<{local}@{domain}>"
            if message_id not in self.used_ids:
                self.used_ids.add(message_id)
                return message_id

    def _values(self, person: _Person, date: datetime) -> dict[str, str]:
        rng = self.rng
        currency = "€" if person.utc_offset_min in (0, 60, 120) else "$"
        return {
            "first": person.first,
            "owner": self.owner,
            "email": f"{person.local}@{person.domain}",
            "order": str(rng.randint(40000, 59999)),
            "invoice": f"INV-{date.year}-{rng.randint(1000, 9999)}",
            "amount": f"{currency}{rng.randint(19, 899)}.{rng.choice(('00', '50', '95', '99'))}",
            "product": rng.choice(_PRODUCTS),
            "qty": str(rng.choice((25, 40, 60, 120, 250, 500))),
            "company": person.company or "Northwind Traders",
            "plan": rng.choice(_PLANS),
            "day": _day(date - timedelta(days=rng.randint(1, 9))),
            "today": _day(date),
            "soon": _day(date + timedelta(days=rng.randint(1, 5))),
            "isodate": date.date().isoformat(),
        }

    def _signature(self, person: _Person) -> str:
        if self.mailbox == "personal":
            return person.first
        if person.company and self.rng.random() < 0.6:
            return f"{person.signature}\n{person.company}"
        return person.signature

    def _localise(self, person: _Person) -> _Person:
        """Colleagues live in the team's domain; no customer may (see module docstring)."""
        if not person.domain:
            return replace(person, domain=self.domain)
        if person.domain != self.domain:
            return person
        return replace(person, domain=next(d for d in _FALLBACK_DOMAINS if d != self.domain))


# -- bodies and attachments ------------------------------------------------------------------------------


def _day(d: datetime) -> str:
    return f"{d.day} {_MONTHS[d.month - 1]}"


def _plain(greeting: str, paragraphs: Sequence[str], closing: str, signature: str) -> str:
    blocks = [greeting]
    for p in paragraphs:
        # Lists and numbered points keep their lines; prose is wrapped like a mail client does.
        blocks.append(p if "\n" in p else textwrap.fill(p, 72))
    blocks.append(f"{closing}\n{signature}")
    return "\n\n".join(blocks) + "\n"


def _html(greeting: str, paragraphs: Sequence[str], closing: str, signature: str) -> str:
    def para(text: str) -> str:
        lines = text.split("\n")
        if all(line.startswith("- ") for line in lines):
            return "<ul>" + "".join(f"<li>{html.escape(line[2:])}</li>" for line in lines) + "</ul>"
        return "<p>" + "<br>".join(html.escape(line) for line in lines) + "</p>"

    sig = "<br>".join(html.escape(line) for line in signature.split("\n"))
    body = "".join(para(p) for p in (greeting, *paragraphs))
    return (
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head>"
        f"<body><div style=\"font-family:Calibri,Arial,sans-serif;font-size:11pt\">{body}"
        f"<p>{html.escape(closing)}<br><b>{sig}</b></p></div></body></html>\n"
    )


def _set_text(msg: EmailMessage, text: str) -> None:
    # Quoted-printable for non-ASCII text, as most clients send it (policy.SMTP would pick raw 8bit).
    msg.set_content(text, cte=None if text.isascii() else "quoted-printable")


def _attach(msg: EmailMessage, kind: str, values: dict[str, str], rng: random.Random) -> None:
    if kind in ("pdf", "pdf-de", "form"):
        title, name = {
            "pdf": (f"Invoice {values['invoice']}", f"{values['invoice']}.pdf"),
            "pdf-de": (f"Rechnung {values['invoice']}", "Rechnung_März.pdf"),  # non-ASCII: RFC 2231 name
            "form": ("Supplier registration form", "supplier-registration.pdf"),
        }[kind]
        msg.add_attachment(_tiny_pdf(title), maintype="application", subtype="pdf", filename=name)
    elif kind == "csv":
        rows = ["name,email,team"] + [
            f"{n},{n.split()[0].lower()}@example.org,{rng.choice(('Ops', 'Finance', 'Support'))}"
            for n in ("Ana Lima", "Ben Okafor", "Chen Wei", "Dana Cohen", "Eli Brandt")
        ]
        msg.add_attachment("\n".join(rows) + "\n", subtype="csv", filename="seats.csv")
    elif kind == "tickets":
        rows = ["ticket,customer,status", f"#{values['order']},Müller Feinkost,waiting for photos",
                "#51877,Acme Widgets,refund approved", "#50212,Sever Systems,replacement shipped"]
        msg.add_attachment("\n".join(rows) + "\n", subtype="csv", filename="open-tickets.csv", cte="base64")
    else:  # txt log
        lines = [f"{values['isodate']}T10:1{i}:0{i}Z E/Upload: photo picker returned null (attempt {i + 1})"
                 for i in range(4)]
        msg.add_attachment("\n".join(lines) + "\n", filename="crash.log")


def _tiny_pdf(text: str) -> bytes:
    """A valid one-page PDF showing ``text`` (ASCII), with a correct xref table."""
    safe = text.encode("ascii", "replace").decode().replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 18 Tf 72 720 Td ({safe}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# -- team desk: canned responses and an internal note in support@ (see core.teamdesk) ------------------

_DESK_TEMPLATES = (
    ("Refund confirmed",
     "Dear {customer_name},\n\nthank you for your patience. We have refunded the amount in question; it will\n"
     "show on your statement within 3–5 working days.\n\nRegarding “{original_subject}”: if anything is still\n"
     "unclear, just reply to this message.\n\nKind regards,\n{agent_name}\n{identity_name}\n"),
    ("Password reset instructions",
     "Hi {customer_name},\n\nplease open https://example.com/reset and enter {customer_email}. The link in the\n"
     "mail we send you is valid for 30 minutes (sent {date}).\n\nBest,\n{agent_name}\nTicket: {ticket_number}\n"),
)  # fmt: skip


def demo_desk_messages(
    domain: str, support_inbox: Sequence[bytes], *, now: datetime | None = None
) -> tuple[list[bytes], list[bytes]]:
    """(templates, notes) for support@'s ``INBOX/Templates`` and ``INBOX/Notes`` in the demo.

    The note is on the newest customer conversation of ``support_inbox`` (the demo's seeded INBOX),
    written by bob, so the panel shows a teammate's note at once. ``{ticket_number}`` is deliberately
    unknown: the picker highlights it.
    """
    from sharedclient.core.teamdesk.notes import build_note, conversation_of  # noqa: PLC0415 - demo only
    from sharedclient.core.teamdesk.templates import build_template  # noqa: PLC0415

    alice = Address("Alice Adams", "alice", domain)
    bob = Address("Bob Baker", "bob", domain)
    when = now or datetime.now(timezone.utc)
    templates = [build_template(name, body, alice if i == 0 else bob, now=when) for i, (name, body) in enumerate(_DESK_TEMPLATES)]
    notes = []
    for raw in reversed(support_inbox):
        about = conversation_of(raw)
        if not about.subject.lower().startswith("re:"):
            notes.append(build_note("Called the customer back this morning: key account, please answer today "
                                    "and put Dana (team lead) in Cc on anything involving money.", bob, about,
                                    now=when))  # fmt: skip
            break
    return templates, notes


def seed_desk(dovecot: DeskSeeder, owner: str, grants: dict[str, str], inbox: Sequence[bytes]) -> None:
    """Put the demo templates and note into ``owner``'s ``INBOX/Templates`` and ``INBOX/Notes``.

    Where SharedClient itself creates them (inside the INBOX), with the INBOX's grants (login -> rights).
    """
    templates, notes = demo_desk_messages(owner.rpartition("@")[2], inbox)
    for folder, messages in (("INBOX/Templates", templates), ("INBOX/Notes", notes)):
        dovecot.create_mailbox(owner, folder)
        for login, rights in grants.items():
            dovecot.set_acl(owner, folder, f"user={login}", rights)
        dovecot.deliver_many(owner, messages, mailbox=folder)


class DeskSeeder(Protocol):
    """What :func:`seed_desk` needs of ``devservers.dovecot.DovecotInstance``."""

    def create_mailbox(self, login: str, name: str) -> None: ...
    def set_acl(self, owner_login: str, mailbox: str, identifier: str, rights: str) -> None: ...
    def deliver_many(self, login: str, messages: Sequence[bytes], mailbox: str = "INBOX") -> None: ...
