"""``sharedclient audit [--json|--csv] [--since DATE] [--action A]`` and ``sharedclient audit verify``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sharedclient.cli.context import CliContext
from sharedclient.core.auditing import AuditRecorder
from sharedclient.core.store.audit import CSV_COLUMNS, AuditEntry, AuditLog, audit_path, write_csv

__all__ = ["CSV_COLUMNS", "audit_recorder", "open_audit", "register"]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("audit", help="show or verify the access audit trail of the profile")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="a JSON list of entries")
    fmt.add_argument("--csv", action="store_true", help="CSV with a header row")
    p.add_argument("--since", metavar="DATE", help="only entries from DATE on (YYYY-MM-DD[THH:MM], local time)")
    p.add_argument("--action", metavar="A", help="only this action (e.g. acl.grant), or a group (acl)")
    p.set_defaults(func=cmd_show)
    asub = p.add_subparsers(dest="audit_cmd", metavar="[verify]")
    verify = asub.add_parser("verify", help="check the hash chain; exit 1 naming the first bad entry")
    verify.set_defaults(func=cmd_verify)


def open_audit(ctx: CliContext) -> AuditLog:
    """The profile's audit trail (created empty on first use)."""
    profile = ctx.profile()
    return AuditLog(audit_path(profile.data_dir), profile.name)


def audit_recorder(ctx: CliContext) -> AuditRecorder:
    """What CLI commands record through; a damaged trail raises StorageError, so the command is refused."""
    return AuditRecorder(open_audit(ctx), on_error=lambda sentence: print(f"sharedclient: {sentence}", file=ctx.stderr))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _line(entry: AuditEntry) -> str:
    target = "" if entry.target is None else _text(entry.target)
    details = "" if not entry.details else " " + _text(entry.details)
    where = f" [{entry.account}]" if entry.account else ""
    return f"{entry.seq}\t{entry.time}\t{entry.user}{where}\t{entry.action}\t{target}\t{entry.result}{details}"


def cmd_show(ctx: CliContext, args: argparse.Namespace) -> int:
    with open_audit(ctx) as log:
        entries = log.entries(since=args.since, action=args.action)
        if args.json or args.csv:  # an export is itself an audited access
            log.record("audit.export", details={"format": "json" if args.json else "csv", "since": args.since or "",
                                                "action": args.action or "", "entries": len(entries)})  # fmt: skip
    if args.json:
        ctx.out(json.dumps([e.to_json() for e in entries], indent=2, ensure_ascii=False))
    elif args.csv:
        write_csv(entries, ctx.stdout)
    elif not entries:
        ctx.out("The audit trail has no entries" + (" matching that." if args.since or args.action else " yet."))
    else:
        for entry in entries:
            ctx.out(_line(entry))
    return 0


def cmd_verify(ctx: CliContext, args: argparse.Namespace) -> int:
    with open_audit(ctx) as log:
        result = log.verify()
    if result.ok:
        ctx.out(f"The audit trail is intact: {result.entries} entries, last hash {result.head_hash}.")
        return 0
    if result.first_bad_seq is None:
        print(f"sharedclient: {result.problem}", file=ctx.stderr)
    else:
        print(f"sharedclient: The audit trail was tampered with at entry {result.first_bad_seq}: {result.problem}",
              file=ctx.stderr)
    return 1
