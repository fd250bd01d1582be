"""The command-line interface: argparse subcommands that call into core."""
