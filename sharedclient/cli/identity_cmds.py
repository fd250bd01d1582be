"""``sharedclient identity add|list|remove|check``."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path

from sharedclient.cli.audit_cmds import audit_recorder
from sharedclient.cli.context import CliContext
from sharedclient.core.auditing import AuditRecorder
from sharedclient.core.secrets import CredentialStore
from sharedclient.core.errors import NotFoundError, UsageError
from sharedclient.core.identities import (
    CheckResult,
    IdentityOption,
    IdentityStatus,
    all_identities,
    find_identity,
    identity_options,
    own_identity,
    probe_identity,
)
from sharedclient.core.mime.addresses import check_text, strict_addr_spec
from sharedclient.core.model import Identity, SendMode
from sharedclient.core.settings import Settings
from sharedclient.core.store.checks import IdentityCheckStore
from sharedclient.core.store.profile_db import ProfileDb


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("identity", help="addresses you send from (own, Send As, on behalf) and whether you may")
    isub = p.add_subparsers(dest="identity_cmd", required=True, metavar="ACTION")

    add = isub.add_parser("add", help="add an identity to send from")
    add.add_argument("address")
    add.add_argument("--account", required=True, help="the account whose SMTP login sends it")
    add.add_argument("--name", default="", help='display name, e.g. "Support Team"')
    add.add_argument("--mode", choices=[m.value for m in SendMode], default=SendMode.SEND_AS.value)
    add.add_argument("--alias", action="append", default=[], metavar="ADDR", help="another address of it (repeatable)")
    add.add_argument("--reply-to", metavar="ADDR", help="Reply-To for messages from this identity")
    add.add_argument("--signature-file", metavar="FILE", help="signature text (UTF-8), appended after “-- ”")
    add.add_argument("--mailbox", metavar="OWNER_ADDRESS", help="the shared mailbox it belongs to (its Sent gets the copy)")
    add.add_argument("--sent-folder", metavar="PATH", help="save the team copy in this folder instead of finding it")
    add.add_argument("--dsn", action="store_true", help="ask for delivery status notifications (when the server offers DSN)")
    add.set_defaults(func=cmd_add)

    lst = isub.add_parser("list", help="list identities with their last check result")
    lst.add_argument("--check", action="store_true", help="check every identity with the server first")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_list)

    rm = isub.add_parser("remove", help="remove an identity")
    rm.add_argument("address")
    rm.set_defaults(func=cmd_remove)

    chk = isub.add_parser("check", help="ask the server whether you may send as an identity (sends nothing)")
    chk.add_argument("address", nargs="?", help="one identity (default: all)")
    chk.set_defaults(func=cmd_check)


def identity_from_args(args: argparse.Namespace, settings: Settings) -> Identity:
    account = settings.account(args.account)
    address = strict_addr_spec(args.address.strip())
    mode = SendMode(args.mode)
    if mode is SendMode.ON_BEHALF and address.lower() == account.email.lower():
        raise UsageError(f"{address} is the account's own address; use --mode own for it.")
    signature = ""
    if args.signature_file:
        try:
            signature = Path(args.signature_file).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"The signature file {args.signature_file} cannot be read ({exc}).") from exc
    return Identity(
        address=address,
        name=" ".join(check_text(args.name, "The name").split()),
        account=account.name,
        mode=mode,
        aliases=tuple(strict_addr_spec(a.strip()) for a in args.alias),
        reply_to=strict_addr_spec(args.reply_to.strip()) if args.reply_to else None,
        signature=signature,
        mailbox_owner=strict_addr_spec(args.mailbox.strip()) if args.mailbox else None,
        sent_folder=check_text(args.sent_folder, "The Sent folder") if args.sent_folder else None,
        dsn=args.dsn,
    )


def cmd_add(ctx: CliContext, args: argparse.Namespace) -> int:
    profile = ctx.profile()
    with profile.lock():
        settings = profile.load()
        identity = identity_from_args(args, settings)
        with audit_recorder(ctx) as audit:
            profile.save(settings.with_identity(identity))
            audit.record("identity.add", account=identity.account, target={"identity": identity.address},
                         details={"mode": identity.mode.value})  # fmt: skip
    ctx.out(f"Added identity {identity.address} ({identity.mode.value}) sending through account “{identity.account}”.")
    return 0


def cmd_remove(ctx: CliContext, args: argparse.Namespace) -> int:
    profile = ctx.profile()
    with profile.lock():
        with audit_recorder(ctx) as audit:
            profile.save(profile.load().without_identity(args.address))
            audit.record("identity.remove", target={"identity": args.address})
    with ProfileDb.for_data_dir(profile.data_dir) as db:
        IdentityCheckStore(db).forget(args.address)
    ctx.out(f"Removed identity {args.address}.")
    return 0


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds") if ts else None


def option_json(option: IdentityOption, implicit: bool) -> dict[str, object]:
    ident = option.identity
    return {
        "address": ident.address,
        "name": ident.name,
        "mode": ident.mode.value,
        "account": ident.account,
        "status": option.status.value,
        "reason": option.reason,
        "checked_at": _iso(option.checked_at),
        "aliases": list(ident.aliases),
        "reply_to": ident.reply_to,
        "mailbox": ident.mailbox_owner,
        "sent_folder": ident.sent_folder,
        "dsn": ident.dsn,
        "implicit": implicit,
    }


def _check(ctx: CliContext, settings: Settings, identities: list[Identity], store: IdentityCheckStore) -> list[CheckResult]:
    creds = ctx.credentials()
    results = []
    with audit_recorder(ctx) as audit:
        for ident in identities:
            results.append(_check_one(settings, ident, creds, store, audit))
    return results


def _check_one(settings: Settings, ident: Identity, creds: CredentialStore, store: IdentityCheckStore,
               audit: AuditRecorder) -> CheckResult:  # fmt: skip
    account = settings.account(ident.account)
    password = creds.get(account.name, "smtp")
    if password is None:
        raise NotFoundError(
            f"No password is stored for account “{account.name}”; remove it and add it again with --password-stdin."
        )
    result = probe_identity(account, password, ident, own_identity(settings, ident.account))
    store.record(ident, result)
    audit.record("permission.check", account=ident.account, target={"identity": ident.address},
                 result=result.status.value, details={"mode": ident.mode.value, "reason": result.reason})  # fmt: skip
    return result


def cmd_list(ctx: CliContext, args: argparse.Namespace) -> int:
    profile = ctx.profile()
    settings = profile.load()
    explicit = {i.address.lower() for i in settings.identities}
    with ProfileDb.for_data_dir(profile.data_dir) as db:
        store = IdentityCheckStore(db)
        if args.check:
            _check(ctx, settings, all_identities(settings), store)
        options = identity_options(settings, store.all())
    if args.json:
        data = [option_json(o, o.identity.address.lower() not in explicit) for o in options]
        ctx.out(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    if not options:
        ctx.out("No identities yet: add an account first (its own address is an identity).")
    for o in options:
        ident = o.identity
        shown = f"{ident.name} <{ident.address}>" if ident.name else ident.address
        group = f"\tmailbox {o.group}" if o.group else ""
        checked = f" (checked {_iso(o.checked_at)})" if o.checked_at else ""
        ctx.out(f"{shown}\t{ident.mode.value}\tvia {ident.account}\t{o.status.value}{checked}{group}")
        if o.status is IdentityStatus.DENIED:
            ctx.out(f"  {o.reason}")
    return 0


def cmd_check(ctx: CliContext, args: argparse.Namespace) -> int:
    profile = ctx.profile()
    settings = profile.load()
    identities = [find_identity(settings, args.address)] if args.address else all_identities(settings)
    with ProfileDb.for_data_dir(profile.data_dir) as db:
        results = _check(ctx, settings, identities, IdentityCheckStore(db))
    for ident, result in zip(identities, results):
        ctx.out(f"{ident.address} ({ident.mode.value}): {result.status.value} — {result.reason}")
    return 0 if all(r.status is IdentityStatus.VERIFIED for r in results) else 1
