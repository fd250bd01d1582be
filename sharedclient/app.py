"""Entry point: parse the command line and hand over to a CLI command, the demo, or the GUI."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sharedclient import __version__
from sharedclient.cli import account_cmds, acl_cmds, audit_cmds, profile_cmds, read_cmds
from sharedclient.cli import identity_cmds, send_cmds
from sharedclient.cli import dlp_cmds
from sharedclient.cli import export_cmds, track_cmds
from sharedclient.cli import teamdesk_cmds
from sharedclient.cli.context import CliContext
from sharedclient.core.errors import SharedClientError
from sharedclient.core.profiles import DEFAULT_PROFILE, ProfileStore

log = logging.getLogger("sharedclient")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sharedclient",
        description="Mail client for shared mailboxes. Without a command, opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--basedir", metavar="DIR", help="keep all profiles under DIR (default: $SHAREDCLIENT_HOME or the user dirs)"
    )
    parser.add_argument(
        "--profile", help=f"profile to use (default: {DEFAULT_PROFILE}; the window asks when there are several)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    profile_cmds.register(sub)
    account_cmds.register(sub)
    read_cmds.register(sub)
    acl_cmds.register(sub)
    audit_cmds.register(sub)
    identity_cmds.register(sub)
    send_cmds.register(sub)
    track_cmds.register(sub)
    export_cmds.register(sub)
    teamdesk_cmds.register(sub)
    dlp_cmds.register(sub)
    demo = sub.add_parser("demo", help="start local demo mail servers and open the window on them")
    demo.add_argument("--no-gui", action="store_true", help="start the servers and print how to connect, no window")
    demo.set_defaults(func=None, gui="demo")
    return parser


def main(argv: Sequence[str] | None = None, **context_overrides: object) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    basedir = args.basedir or os.environ.get("SHAREDCLIENT_HOME") or None
    ctx = CliContext(store=ProfileStore(Path(basedir) if basedir else None), profile_name=args.profile or DEFAULT_PROFILE)
    for key, value in context_overrides.items():
        setattr(ctx, key, value)
    try:
        if args.command is None:
            from sharedclient.ui.launch import run_gui

            return run_gui(ctx, choose_profile=args.profile is None)
        if args.command == "demo":
            from sharedclient.devservers.demo import run_demo

            return run_demo(ctx, gui=not args.no_gui)
        return int(args.func(ctx, args))
    except SharedClientError as exc:
        log.debug("command failed", exc_info=True)
        print(f"sharedclient: {exc.user_message}", file=ctx.stderr)
        return 1
    except KeyboardInterrupt:
        print("sharedclient: interrupted.", file=ctx.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
