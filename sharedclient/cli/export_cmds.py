"""``sharedclient export`` (a mailbox or search result to mbox / .eml files) and ``sharedclient retention``.

CSV exports of the sent-as history and the audit trail are ``sharedclient log --csv`` and
``sharedclient audit --csv``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sharedclient.cli.audit_cmds import open_audit
from sharedclient.cli.context import CliContext
from sharedclient.cli.read_cmds import open_session, readable_folder, split_mailbox
from sharedclient.core import retention
from sharedclient.core.errors import UsageError
from sharedclient.core.export import ExportResult, check_target, export_messages
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.store.profile_db import ProfileDb


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("export", help="save a mailbox (or the messages matching --search) as mbox or .eml files")
    p.add_argument("mailbox", metavar="MAILBOX", help="ACCOUNT:PATH")
    p.add_argument("target", metavar="TARGET", help="a new .mbox file, or a new/empty folder for --format eml")
    p.add_argument("--format", choices=("mbox", "eml"), default="mbox")
    p.add_argument("--search", metavar="TEXT", help="only messages containing TEXT (server-side search)")
    p.set_defaults(func=cmd_export)

    r = sub.add_parser("retention", help="remove history and audit entries older than the retention period")
    r.add_argument("--set-days", type=int, metavar="N", help="configure the period (at least 30 days)")
    r.add_argument("--days", type=int, metavar="N", help="use N days this once instead of the configured period")
    r.add_argument("--apply", action="store_true", help="really remove (without it, only show what would go)")
    r.set_defaults(func=cmd_retention)


def cmd_export(ctx: CliContext, args: argparse.Namespace) -> int:
    name, path = split_mailbox(ctx, args.mailbox)
    target = Path(args.target).expanduser()
    check_target(target, args.format)
    with open_session(ctx, name) as session:
        readable_folder(session, path)
        uids = session.search_text(path, args.search).result() if args.search else None
        if uids == []:
            raise UsageError(f"No message in {path} contains “{args.search}”; nothing was exported.")

        def job(conn: ImapConnection) -> ExportResult:
            return export_messages(conn, path, uids, target, args.format)

        result = session.worker.submit(job).result()
    with open_audit(ctx) as audit:
        audit.record("mailbox.export", account=name, target={"mailbox": path},
                     details={"format": args.format, "file": str(target), "messages": result.count,
                              "search": args.search or ""})  # fmt: skip
    ctx.out(f"Exported {result.count} message(s) from {path} to {target} ({args.format}).")
    return 0


def cmd_retention(ctx: CliContext, args: argparse.Namespace) -> int:
    data_dir = ctx.profile().data_dir
    with open_audit(ctx) as audit:
        if args.set_days is not None:
            retention.save_days(data_dir, args.set_days, audit)
            ctx.out(f"Retention period set to {args.set_days} days. Nothing is removed until `retention --apply`.")
            return 0
        days = args.days or retention.load_days(data_dir)
        if days is None:
            raise UsageError("No retention period is configured; set one with `sharedclient retention --set-days N`.")
        with ProfileDb.for_data_dir(data_dir) as db:
            found = retention.plan(db, audit, days)
            what = (f"{found.history_entries} history entr{'y' if found.history_entries == 1 else 'ies'} and "
                    f"{found.audit_entries} audit entr{'y' if found.audit_entries == 1 else 'ies'} older than "
                    f"{days} days (before {found.cutoff:%Y-%m-%d %H:%M} UTC)")  # fmt: skip
            if not args.apply:
                ctx.out(f"Would remove {what}. Run again with --apply to remove them.")
                return 0
            retention.apply(db, audit, found)
    ctx.out(f"Removed {what}; the removal is recorded in the audit trail, which still verifies.")
    return 0
