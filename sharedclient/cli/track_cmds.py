"""``sharedclient track scan|show`` (delivery reports, read receipts) and ``claim``/``release`` (team state).

``sync`` already records reports it finds in an INBOX; ``track scan`` does it on request for any mailbox.
``claim`` exits 0 when the message is yours, 4 when someone else holds it (scripts can branch on that);
``send --reply-to-message`` also exits 4, sending nothing, when a teammate answered or claimed the original.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sharedclient.cli.audit_cmds import open_audit
from sharedclient.cli.context import CliContext
from sharedclient.cli.read_cmds import open_session, split_mailbox, table
from sharedclient.core.errors import NotFoundError
from sharedclient.core.imap.claims import claim, release
from sharedclient.core.imap.collision import Collision, baseline, check
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.discovery import classify, read_namespaces
from sharedclient.core.imap.messages import resolve_folder
from sharedclient.core.imap.sent_copy import choose_sent_folder, sent_candidates
from sharedclient.core.imap.session import open_imap
from sharedclient.core.model import Identity
from sharedclient.core.settings import Settings
from sharedclient.core.store.outbox import OriginalRef
from sharedclient.core.store.history import SendHistory
from sharedclient.core.store.profile_db import ProfileDb
from sharedclient.core.tracking.matcher import DeliveryTracker, summary
from sharedclient.core.tracking.mdn import POLICIES, load_policy, save_policy
from sharedclient.core.tracking.scan import ScanResult, scan_reports

EXIT_HELD_BY_OTHER = 4


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("track", help="delivery reports and read receipts of sent messages")
    tsub = p.add_subparsers(dest="track_cmd", metavar="ACTION", required=True)
    scan = tsub.add_parser("scan", help="look for delivery reports / read receipts in a mailbox now")
    scan.add_argument("mailbox", metavar="MAILBOX", help="ACCOUNT:PATH, e.g. work:shared/support@example.com/INBOX")
    scan.set_defaults(func=cmd_scan)
    show = tsub.add_parser("show", help="per-recipient delivery state of one history entry")
    show.add_argument("id", type=int, metavar="HISTORY_ID")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_show)
    receipts = tsub.add_parser("receipts", help="show or set whether SharedClient offers to send read receipts")
    receipts.add_argument("--policy", choices=POLICIES, help="ask: offer Send receipt / Ignore; never: do not offer")
    receipts.set_defaults(func=cmd_receipts)

    for name, helptext in (("claim", "claim a message for yourself in a shared mailbox"),
                           ("release", "release your claim on a message")):  # fmt: skip
        c = sub.add_parser(name, help=helptext)
        c.add_argument("mailbox", metavar="MAILBOX", help="ACCOUNT:PATH")
        c.add_argument("uid", type=int, metavar="UID")
        if name == "release":
            c.add_argument("--everyone", action="store_true", help="remove every claim, not only yours")
        c.set_defaults(func=cmd_claim if name == "claim" else cmd_release)


def cmd_scan(ctx: CliContext, args: argparse.Namespace) -> int:
    name, path = split_mailbox(ctx, args.mailbox)
    with ProfileDb.for_data_dir(ctx.profile().data_dir) as db, open_session(ctx, name) as session:
        tracker = DeliveryTracker(db)
        result: ScanResult = session.worker.submit(lambda conn: scan_reports(conn, name, path, tracker)).result()
    for history_id, report in result.matched:
        ctx.out(f"#{history_id}: " + ", ".join(f"{r.recipient} {r.state}" for r in report.results))
    ctx.out(f"{len(result.matched)} report(s) recorded, {result.unmatched} not about messages in the history.")
    return 0


def cmd_show(ctx: CliContext, args: argparse.Namespace) -> int:
    with ProfileDb.for_data_dir(ctx.profile().data_dir) as db:
        entry = SendHistory(db).get(args.id)
        if entry is None:
            raise NotFoundError(f"There is no history entry {args.id} (see `sharedclient log`).")
        states = DeliveryTracker(db).states(args.id)
    if args.json:
        ctx.out(json.dumps([{
            "recipient": s.recipient, "kind": s.kind, "state": s.state, "status": s.status,
            "diagnostic": s.diagnostic, "reported_at": s.reported_at, "recorded_at": s.recorded_at,
        } for s in states], indent=2, ensure_ascii=False))  # fmt: skip
        return 0
    ctx.out(f"#{entry.id} “{entry.subject}” to {', '.join(entry.recipients)}: {summary(states, len(entry.recipients)) or 'no report yet'}")
    rows = [[s.recipient, "receipt" if s.kind == "mdn" else "delivery", s.state, s.diagnostic or s.status,
             datetime.fromtimestamp(s.recorded_at).strftime("%Y-%m-%d %H:%M")] for s in states]  # fmt: skip
    if rows:
        table(ctx, ["RECIPIENT", "KIND", "STATE", "DETAIL", "RECORDED"], rows)
    return 0


def cmd_receipts(ctx: CliContext, args: argparse.Namespace) -> int:
    data_dir = ctx.profile().data_dir
    if args.policy:
        save_policy(data_dir, args.policy)
        with open_audit(ctx) as audit:
            audit.record("settings.receipts", details={"policy": args.policy})
    policy = load_policy(data_dir)
    ctx.out("Read receipts: " + ("SharedClient asks you each time; nothing is sent without your click."
                                 if policy == "ask" else "never sent; requests are shown but not offered."))
    return 0


def cmd_claim(ctx: CliContext, args: argparse.Namespace) -> int:
    name, path = split_mailbox(ctx, args.mailbox)
    with open_session(ctx, name) as session:
        account = session.account

        def job(conn: ImapConnection):  # type: ignore[no-untyped-def]
            return claim(conn, resolve_folder(conn, account, path), args.uid, account.email)

        result = session.worker.submit(job).result()
        session.audit.record("message.claim", account=name, target={"mailbox": path, "uid": args.uid},
                             result="ok" if result.won else "held", details={"holders": list(result.holders)})  # fmt: skip
    ctx.out(result.message)
    return 0 if result.won else EXIT_HELD_BY_OTHER


def cmd_release(ctx: CliContext, args: argparse.Namespace) -> int:
    name, path = split_mailbox(ctx, args.mailbox)
    with open_session(ctx, name) as session:
        account = session.account
        held = session.worker.submit(
            lambda conn: release(conn, resolve_folder(conn, account, path), args.uid, account.email, everyone=args.everyone)
        ).result()
        session.audit.record("message.release", account=name, target={"mailbox": path, "uid": args.uid},
                             details={"held_by": list(held), "everyone": args.everyone})  # fmt: skip
    ctx.out(f"Released (held by {', '.join(held)})." if held else "Nobody held this message.")
    return 0


def reply_collisions(ctx: CliContext, settings: Settings, ref: OriginalRef, identity: Identity) -> list[Collision]:
    """For ``send --reply-to-message`` in a shared mailbox: who answered or claimed the original already.

    A command line has no "composer opened" moment, so everything counts: the \\Answered flag, a claim by
    someone else, and replies by someone else in the team's Sent folder (by the trace header).
    """
    account = settings.account(ref.account)
    password = ctx.credentials().get(account.name, "imap")
    if password is None:
        return []
    conn = ImapConnection(open_imap(account, password))
    try:
        _, owner = classify(ref.path, read_namespaces(conn.client), account)
        if owner is None and account.kind != "shared":
            return []  # a personal mailbox: no teammates
        base = replace(baseline(conn, ref.path, ref.uid), flags=(), modseq=None, opened_at=0.0)
        team = replace(identity, mailbox_owner=owner, sent_folder=None) if owner else identity  # the team's Sent
        target = choose_sent_folder(sent_candidates(conn.client, account, team), team)
        return check(conn, base, account.email, None if target.warning else target.path)
    finally:
        conn.close()


def refuse_on_collision(ctx: CliContext, found: Sequence[Collision]) -> int:
    for c in found:
        print(f"sharedclient: {c.sentence}", file=ctx.stderr)
    print("sharedclient: not sent; to reply anyway, add --send-anyway.", file=ctx.stderr)
    return EXIT_HELD_BY_OTHER
