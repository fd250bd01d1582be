"""``sharedclient profile create|list|delete``."""

from __future__ import annotations

import argparse

from sharedclient.cli.context import CliContext
from sharedclient.core.secrets import move_passwords


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("profile", help="create, list, rename or delete profiles")
    psub = p.add_subparsers(dest="profile_cmd", required=True, metavar="ACTION")
    create = psub.add_parser("create", help="create an empty profile")
    create.add_argument("name")
    create.set_defaults(func=cmd_create)
    lst = psub.add_parser("list", help="list profiles")
    lst.set_defaults(func=cmd_list)
    rename = psub.add_parser("rename", help="rename a profile (its stored passwords move along)")
    rename.add_argument("name")
    rename.add_argument("new_name")
    rename.set_defaults(func=cmd_rename)
    delete = psub.add_parser("delete", help="delete a profile with its settings and cached data")
    delete.add_argument("name")
    delete.set_defaults(func=cmd_delete)


def cmd_create(ctx: CliContext, args: argparse.Namespace) -> int:
    profile = ctx.store.create(args.name)
    ctx.out(f"Created profile “{profile.name}” in {profile.config_dir}.")
    return 0


def cmd_list(ctx: CliContext, args: argparse.Namespace) -> int:
    for name in ctx.store.names():
        ctx.out(name)
    return 0


def cmd_rename(ctx: CliContext, args: argparse.Namespace) -> int:
    accounts = [acct.name for acct in ctx.store.get(args.name, create_default=False).load().accounts]
    ctx.store.rename(args.name, args.new_name)
    move_passwords(ctx.credentials_factory, args.name, args.new_name, accounts)
    ctx.out(f"Renamed profile “{args.name}” to “{args.new_name}”.")
    return 0


def cmd_delete(ctx: CliContext, args: argparse.Namespace) -> int:
    profile = ctx.store.get(args.name, create_default=False)
    accounts = [acct.name for acct in profile.load().accounts]
    ctx.store.delete(args.name)
    ctx.forget_passwords(args.name, accounts)
    ctx.out(f"Deleted profile “{args.name}”.")
    return 0
