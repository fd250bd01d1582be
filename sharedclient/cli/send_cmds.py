"""``sharedclient send``, ``sharedclient outbox [flush|retry|delete]`` and ``sharedclient log``.

Exit codes of ``send`` / ``outbox flush|retry``: 0 when the server accepted the message(s), 75
(EX_TEMPFAIL) when a message is queued for a retry, 1 when it was refused (the sentence says why; the
message stays in the outbox as failed). ``send`` exits 77 (EX_NOPERM) when the data-loss rules or the
sending-volume guard stop the message before it is queued: blocked, or a warning without ``--dlp-justify``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from sharedclient.cli.audit_cmds import audit_recorder
from sharedclient.cli.context import CliContext
from sharedclient.cli.track_cmds import refuse_on_collision, reply_collisions
from sharedclient.core.auditing import NO_AUDIT, AuditRecorder
from sharedclient.core.errors import NotFoundError, UsageError
from sharedclient.core.identities import choose_reply_identity, find_identity, own_identity, permitted_identities
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.discovery import classify, read_namespaces
from sharedclient.core.imap.messages import fetch_body
from sharedclient.core.imap.session import close_imap, open_imap
from sharedclient.core.mime.addresses import parse_mailbox_list
from sharedclient.core.mime.compose import AttachmentFile, OutgoingMessage
from sharedclient.core.mime.reply import Original, forward_message, read_original, reply_message
from sharedclient.core.model import Identity
from sharedclient.core.outbox_worker import SendContext, SendReport, SendStatus, SendWorker
from sharedclient.core.settings import Settings
from sharedclient.core.store.checks import IdentityCheckStore
from sharedclient.core.store.history import SORT_KEYS, STATUSES, HistoryQuery, SendHistory, parse_since
from sharedclient.core.store.outbox import OriginalRef, OutboxStore
from sharedclient.core.store.profile_db import ProfileDb
from sharedclient.core.send_guard import JustificationRequired, SendBlocked

EX_TEMPFAIL = 75
EX_DLP = 77  # EX_NOPERM: stopped by the data-loss rules or the volume guard; nothing was queued


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    send = sub.add_parser(
        "send", help="send a message (exit 0 sent, 75 queued for retry, 1 refused, 77 stopped by data-loss rules)"
    )
    send.add_argument("--from", dest="from_", metavar="ADDRESS", help="identity to send from")
    send.add_argument("--to", action="append", default=[], metavar="ADDR", help="recipient (repeatable, or comma-separated)")
    send.add_argument("--cc", action="append", default=[], metavar="ADDR")
    send.add_argument("--bcc", action="append", default=[], metavar="ADDR")
    send.add_argument("--subject", help="subject (replies and forwards default to Re:/Fwd: the original's)")
    body = send.add_mutually_exclusive_group()
    body.add_argument("--body", help="message text")
    body.add_argument("--body-file", metavar="FILE", help="message text from a UTF-8 file (- for standard input)")
    send.add_argument("--attach", action="append", default=[], metavar="FILE", help="attach a file (repeatable)")
    orig = send.add_mutually_exclusive_group()
    orig.add_argument("--reply-to-message", metavar="ACCOUNT:MAILBOX:UID", help="reply to this message (quoted, threaded)")
    orig.add_argument("--forward-message", metavar="ACCOUNT:MAILBOX:UID", help="forward this message with its attachments")
    send.add_argument("--reply-all", action="store_true", help="with --reply-to-message: also To and Cc of the original")
    send.add_argument("--dsn", action="store_true", help="ask for delivery status notifications")
    send.add_argument("--receipt", action="store_true", help="ask for a read receipt (Disposition-Notification-To)")
    send.add_argument("--send-anyway", action="store_true",
                      help="reply even if a teammate already answered or claimed the message")
    send.add_argument("--dlp-justify", metavar="REASON",
                      help="why this message may go out although a data-loss rule warns (audited; never passes a block)")
    send.set_defaults(func=cmd_send)

    out = sub.add_parser("outbox", help="messages not sent yet (or whose team copy is pending)")
    out.add_argument("--json", action="store_true")
    osub = out.add_subparsers(dest="outbox_cmd", metavar="ACTION")
    flush = osub.add_parser("flush", help="try to send every queued message now")
    flush.set_defaults(func=cmd_flush)
    retry = osub.add_parser("retry", help="send a failed or cancelled message again")
    retry.add_argument("id", type=int)
    retry.set_defaults(func=cmd_retry)
    delete = osub.add_parser("delete", help="throw away a message that was not sent")
    delete.add_argument("id", type=int)
    delete.set_defaults(func=cmd_delete)
    out.set_defaults(func=cmd_outbox)

    log = sub.add_parser("log", help="the sent-as history: who sent what as whom")
    fmt = log.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true")
    log.add_argument("--identity", metavar="ADDRESS")
    log.add_argument("--mode", choices=["own", "send-as", "on-behalf"])
    log.add_argument("--status", choices=STATUSES)
    log.add_argument("--search", metavar="TEXT", help="words in subject, recipients, From, Sender or Message-ID")
    log.add_argument("--since", metavar="DATE", help="YYYY-MM-DD or YYYY-MM-DDTHH:MM (local time)")
    log.add_argument("--until", metavar="DATE")
    log.add_argument("--sort", choices=sorted(SORT_KEYS), default="time")
    log.add_argument("--ascending", action="store_true")
    log.add_argument("--limit", type=int, default=100, help="at most N rows (0: all; default %(default)s)")
    log.set_defaults(func=cmd_log)


# ---------------------------------------------------------------------------------------------- send


def _worker(ctx: CliContext, db: ProfileDb, settings: Settings, audit: AuditRecorder = NO_AUDIT) -> SendWorker:
    context = SendContext(
        profile_name=ctx.profile_name, settings=lambda: settings, credentials=ctx.credentials(), audit=audit
    )
    return SendWorker(db, context, auto_retry=False)


def _load_original(ctx: CliContext, settings: Settings, ref: OriginalRef) -> tuple[Original, str | None]:
    """The original message and the shared mailbox it lies in (None: personal)."""
    account = settings.account(ref.account)
    password = ctx.credentials().get(account.name, "imap")
    if password is None:
        raise NotFoundError(f"No password is stored for account “{account.name}”.")
    client = open_imap(account, password)
    try:
        raw = fetch_body(ImapConnection(client), ref.path, ref.uid)
        _, owner = classify(ref.path, read_namespaces(client), account)
    finally:
        close_imap(client)
    return read_original(raw), owner


def _body(args: argparse.Namespace, ctx: CliContext) -> str:
    if args.body is not None:
        return str(args.body)
    if args.body_file == "-":
        return ctx.stdin.read()
    if args.body_file:
        try:
            return Path(args.body_file).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"The body file {args.body_file} cannot be read ({exc}).") from exc
    return ""


def build_message(ctx: CliContext, args: argparse.Namespace, settings: Settings, db: ProfileDb) -> tuple[OutgoingMessage, OriginalRef | None]:
    """The OutgoingMessage the command line describes (with the reply identity rules when --from is omitted)."""
    ref_text = args.reply_to_message or args.forward_message
    ref = OriginalRef.parse(ref_text, "reply" if args.reply_to_message else "forward") if ref_text else None
    original, owner = _load_original(ctx, settings, ref) if ref else (None, None)
    identity: Identity
    if args.from_:
        identity = find_identity(settings, args.from_)
    elif original is not None and ref is not None:
        candidates = [o.identity for o in permitted_identities(settings, IdentityCheckStore(db).all())]
        choice = choose_reply_identity(
            original.headers, candidates, mailbox_owner=owner, default=own_identity(settings, ref.account)
        )
        assert choice is not None
        identity = choice.identity
        print(f"From: {identity.address} ({choice.reason})", file=ctx.stderr)
    else:
        raise UsageError("Say which identity sends the message: --from ADDRESS.")
    body = _body(args, ctx)
    if original is not None and args.reply_to_message:
        message = reply_message(original, identity, reply_all=args.reply_all, body=body)
        if original.skipped:
            print(f"sharedclient: left out addresses that cannot be used: {', '.join(original.skipped)}", file=ctx.stderr)
    elif original is not None:
        message = forward_message(original, identity, body=body)
    else:
        message = OutgoingMessage(identity=identity, body=body)
    if args.to:
        message = replace(message, to=tuple(parse_mailbox_list(args.to)))
    if args.cc:
        message = replace(message, cc=(*message.cc, *parse_mailbox_list(args.cc)))
    if args.subject is not None:
        message = replace(message, subject=args.subject)
    elif original is None:
        raise UsageError("The message needs a subject: --subject TEXT.")
    attachments = tuple(AttachmentFile.from_path(p) for p in args.attach)
    message = replace(
        message,
        bcc=tuple(parse_mailbox_list(args.bcc)),
        attachments=(*message.attachments, *attachments),
        request_dsn=True if args.dsn else None,
        request_receipt=args.receipt,
    )
    return message, ref


def report_exit(ctx: CliContext, report: SendReport) -> int:
    if report.status is SendStatus.SENT:
        ctx.out(report.message)
        for warning in report.warnings:
            print(f"sharedclient: warning: {warning}", file=ctx.stderr)
        return 0
    if report.status is SendStatus.QUEUED:
        print(f"sharedclient: {report.message} (outbox id {report.item_id})", file=ctx.stderr)
        return EX_TEMPFAIL
    print(f"sharedclient: {report.message} (kept in the outbox as id {report.item_id})", file=ctx.stderr)
    return 1


def cmd_send(ctx: CliContext, args: argparse.Namespace) -> int:
    profile = ctx.profile()
    with profile.lock():
        settings = profile.load()
        with ProfileDb.for_data_dir(profile.data_dir) as db, contextlib.closing(audit_recorder(ctx)) as audit:
            message, ref = build_message(ctx, args, settings, db)
            if ref is not None and ref.kind == "reply" and not args.send_anyway:
                found = reply_collisions(ctx, settings, ref, message.identity)  # cli.track_cmds
                if found:
                    return refuse_on_collision(ctx, found)
            worker = _worker(ctx, db, settings, audit)
            try:
                report = worker.send(message, original=ref, justification=args.dlp_justify).result()
            except (SendBlocked, JustificationRequired) as exc:
                print(f"sharedclient: {exc.user_message}", file=ctx.stderr)
                if isinstance(exc, JustificationRequired):
                    print('sharedclient: to send it anyway, give the reason: --dlp-justify "REASON"', file=ctx.stderr)
                return EX_DLP
            finally:
                worker.stop()
    return report_exit(ctx, report)


# -------------------------------------------------------------------------------------------- outbox


def cmd_outbox(ctx: CliContext, args: argparse.Namespace) -> int:
    with ProfileDb.for_data_dir(ctx.profile().data_dir) as db:
        items = OutboxStore(db).items()
    if args.json:
        ctx.out(json.dumps([i.to_json() for i in items], indent=2, ensure_ascii=False))
        return 0
    if not items:
        ctx.out("The outbox is empty.")
    for item in items:
        when = datetime.fromtimestamp(item.created).strftime("%Y-%m-%d %H:%M")
        ctx.out(f"{item.id}\t{when}\t{item.status_text}\t{item.identity}\t“{item.subject}”\tattempts {item.attempts}")
        if item.last_error:
            ctx.out(f"  {item.last_error}")
    return 0


def _combined_exit(reports: list[SendReport]) -> int:
    if any(r.status is SendStatus.FAILED for r in reports):
        return 1
    if any(r.status is SendStatus.QUEUED for r in reports):
        return EX_TEMPFAIL
    return 0


def cmd_flush(ctx: CliContext, args: argparse.Namespace) -> int:
    profile = ctx.profile()
    with profile.lock():
        settings = profile.load()
        with ProfileDb.for_data_dir(profile.data_dir) as db, contextlib.closing(audit_recorder(ctx)) as audit:
            worker = _worker(ctx, db, settings, audit)
            try:
                for item in worker.recovered:
                    print(f"sharedclient: message {item.id} was interrupted: now {item.status_text}", file=ctx.stderr)
                reports = worker.flush().result()
            finally:
                worker.stop()
    if not reports:
        ctx.out("Nothing to send.")
    for report in reports:
        report_exit(ctx, report)
    return _combined_exit(reports)


def cmd_retry(ctx: CliContext, args: argparse.Namespace) -> int:
    profile = ctx.profile()
    with profile.lock():
        settings = profile.load()
        with ProfileDb.for_data_dir(profile.data_dir) as db, contextlib.closing(audit_recorder(ctx)) as audit:
            worker = _worker(ctx, db, settings, audit)
            try:
                report = worker.retry(args.id).result()
            finally:
                worker.stop()
    return report_exit(ctx, report)


def cmd_delete(ctx: CliContext, args: argparse.Namespace) -> int:
    profile = ctx.profile()
    with profile.lock(), ProfileDb.for_data_dir(profile.data_dir) as db:
        OutboxStore(db).delete(args.id)
    ctx.out(f"Deleted message {args.id} from the outbox; it was not sent.")
    return 0


# ----------------------------------------------------------------------------------------------- log


def cmd_log(ctx: CliContext, args: argparse.Namespace) -> int:
    if args.limit < 0:
        raise UsageError("--limit must be 0 (all) or more.")
    query = HistoryQuery(
        identity=args.identity,
        mode=args.mode,
        status=args.status,
        since=parse_since(args.since) if args.since else None,
        until=parse_since(args.until) if args.until else None,
        text=args.search or "",
        sort=args.sort,
        descending=not args.ascending,
        limit=args.limit,
    )
    with ProfileDb.for_data_dir(ctx.profile().data_dir) as db:
        history = SendHistory(db)
        if args.csv:
            history.export_csv(query, ctx.stdout)
            return 0
        entries = history.query(query)
    if args.json:
        ctx.out(json.dumps([e.to_json() for e in entries], indent=2, ensure_ascii=False))
        return 0
    if not entries:
        ctx.out("No messages sent yet." if not any((args.identity, args.search, args.since)) else "Nothing matches.")
    for e in entries:
        when = datetime.fromtimestamp(e.time).strftime("%Y-%m-%d %H:%M")
        copy = f"\tcopy: {e.copy_mailbox}" if e.copy_mailbox else ""
        ctx.out(f"{e.id}\t{when}\t{e.status}\t{e.identity} ({e.mode}) → {', '.join(e.recipients)}\t“{e.subject}”{copy}")
        if e.status != "sent" and e.smtp_reply:
            ctx.out(f"  {e.smtp_reply}")
    return 0


__all__ = ["register", "EX_TEMPFAIL", "EX_DLP", "build_message", "report_exit"]
