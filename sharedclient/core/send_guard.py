"""The check every message passes before it is queued: data-loss rules and the sending-volume guard.

:meth:`SendGuard.check` says what was found and what each rule's action is for the sending identity;
:meth:`SendGuard.enforce` refuses a blocked message (:class:`SendBlocked`) or a warned one without a
justification (:class:`JustificationRequired`), and writes each verdict to the audit trail. A
justification only passes warnings, never a block. The override is on disk in the audit trail before the
message may go on; the sending worker also keeps it with the sent-as history entry.

The volume guard counts the identity's attempts in the sent-as history that did not fail, plus messages
queued for it but not yet tried, so a compromised desk cannot become a spam cannon by queueing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sharedclient.core.auditing import NO_AUDIT, AuditRecorder
from sharedclient.core.dlp import Finding, scan_parts
from sharedclient.core.dlp_policy import BLOCK, OFF, VOLUME_RULE, WARN, DlpPolicy
from sharedclient.core.errors import SharedClientError, UsageError
from sharedclient.core.mime.compose import OutgoingMessage
from sharedclient.core.settings import Settings
from sharedclient.core.store.history import HistoryQuery, SendHistory
from sharedclient.core.store.outbox import OutboxState, OutboxStore
from sharedclient.core.store.profile_db import ProfileDb

MAX_JUSTIFICATION = 1000


@dataclass(frozen=True)
class GuardItem:
    """One reason to stop: a finding of a rule, or the volume limit (``finding`` is None then)."""

    rule: str
    label: str
    action: str  # "block" or "warn"
    where: str
    excerpt: str
    finding: Finding | None = None

    def sentence(self) -> str:
        return f"{self.label} in the {self.where} ({self.excerpt})" if self.finding else f"{self.label}: {self.excerpt}"

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "action": self.action, "where": self.where, "excerpt": self.excerpt}


@dataclass(frozen=True)
class GuardReport:
    identity: str
    items: tuple[GuardItem, ...] = field(default=())

    @property
    def blocks(self) -> tuple[GuardItem, ...]:
        return tuple(i for i in self.items if i.action == BLOCK)

    @property
    def warnings(self) -> tuple[GuardItem, ...]:
        return tuple(i for i in self.items if i.action == WARN)

    @property
    def clean(self) -> bool:
        return not self.items

    def describe(self, items: tuple[GuardItem, ...] | None = None) -> str:
        return "; ".join(i.sentence() for i in (self.items if items is None else items))

    def to_json(self) -> list[dict[str, Any]]:
        return [i.to_json() for i in self.items]


class SendBlocked(SharedClientError):
    """A rule whose action is *block* matched (or the volume limit blocks): the message is not sent."""

    def __init__(self, user_message: str, report: GuardReport) -> None:
        super().__init__(user_message)
        self.report = report


class JustificationRequired(SharedClientError):
    """Only warnings matched: the message may be sent with a typed justification."""

    def __init__(self, user_message: str, report: GuardReport) -> None:
        super().__init__(user_message)
        self.report = report


def scan_message(message: OutgoingMessage, policy: DlpPolicy) -> list[Finding]:
    body = message.body + ("\n\n" + message.quote if message.quote else "")
    parts = ((a.filename, "/".join(a.mime_type()), a.data) for a in message.attachments)
    return scan_parts(message.subject, body, parts, policy.rules)


class SendGuard:
    """DLP + volume checks for one profile, with the audit trail the verdicts go to."""

    def __init__(
        self,
        settings: Callable[[], Settings],
        db: ProfileDb | None = None,
        audit: AuditRecorder = NO_AUDIT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._db = db
        self.audit = audit
        self._clock = clock

    def policy(self) -> DlpPolicy:
        return self._settings().dlp

    def recent_count(self, identity: str, minutes: int) -> int:
        """Messages from ``identity`` in the last ``minutes``: history attempts that did not fail, plus queued."""
        if self._db is None:
            return 0
        since = self._clock() - minutes * 60
        history = SendHistory(self._db)
        attempts = history.count(HistoryQuery(identity=identity, since=since))
        failed = history.count(HistoryQuery(identity=identity, since=since, status="failed"))
        queued = sum(
            1 for item in OutboxStore(self._db).items((OutboxState.QUEUED,))
            if item.identity.lower() == identity.lower() and item.history_id is None
        )  # fmt: skip
        return attempts - failed + queued

    def findings(self, message: OutgoingMessage) -> list[Finding]:
        return scan_message(message, self.policy())

    def check(self, message: OutgoingMessage, findings: list[Finding] | None = None) -> GuardReport:
        """What stops this message, with the action the sending identity has for each rule."""
        policy = self.policy()
        identity = message.identity.address
        items = []
        for finding in self.findings(message) if findings is None else findings:
            action = policy.action_for(finding.rule, identity)
            if action != OFF:
                items.append(GuardItem(finding.rule, finding.label, action, finding.where, finding.excerpt, finding))
        limit = policy.volume_for(identity)
        if limit.action != OFF:
            count = self.recent_count(identity, limit.minutes)
            if count + 1 > limit.messages:
                items.append(GuardItem(
                    VOLUME_RULE, "Sending volume", limit.action, "volume",
                    f"this would be message {count + 1} from {identity} in {limit.minutes} minutes "
                    f"(the limit is {limit.messages})",
                ))  # fmt: skip
        return GuardReport(identity, tuple(items))

    def enforce(self, message: OutgoingMessage, justification: str | None = None) -> GuardReport:
        """Check, audit and refuse when needed; returns the report of a message that may go on."""
        justification = (justification or "").strip() or None
        if justification is not None and len(justification) > MAX_JUSTIFICATION:
            raise UsageError(f"The justification is too long (at most {MAX_JUSTIFICATION} characters).")
        report = self.check(message)
        if report.clean:
            return report
        ident = message.identity
        base = {"identity": ident.address, "mode": ident.mode.value, "subject": message.subject}
        target = {"identity": ident.address, "subject": message.subject}
        dlp = [i.to_json() for i in report.items if i.rule != VOLUME_RULE]
        volume = [i.to_json() for i in report.items if i.rule == VOLUME_RULE]
        if report.blocks:
            kind = "dlp" if any(i.rule != VOLUME_RULE for i in report.blocks) else "volume"
            self.audit.record(f"{kind}.blocked", account=ident.account, target=target, result="refused",
                              details={**base, "findings": dlp + volume})  # fmt: skip
            raise SendBlocked(
                f"Not sent: {report.describe(report.blocks)}. This is blocked for {ident.address}"
                + (" (a justification cannot override a block)." if justification else "."),
                report,
            )
        if justification is None:
            kind = "dlp" if dlp else "volume"
            self.audit.record(f"{kind}.warned", account=ident.account, target=target, result="refused",
                              details={**base, "findings": dlp + volume, "reason": "no justification"})  # fmt: skip
            raise JustificationRequired(
                f"Not sent: {report.describe()}. Sending this from {ident.address} needs a justification.", report
            )
        # On disk before the message may go on: no audited justification, no send.
        self.audit.record_now("dlp.override", account=ident.account, target=target, result="ok",
                              details={**base, "findings": dlp + volume, "justification": justification})  # fmt: skip
        return report
