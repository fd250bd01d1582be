"""A throwaway certificate authority for the built-in demo and the real-server tests.

The client never disables certificate checks, not even in the demo: instead the demo servers present a
certificate issued by a private CA that exists only for this run, and the client is told to trust exactly
that CA file (``--ca-file`` / ``ssl.create_default_context(cafile=...)``). That way the demo exercises the
same verifying code path as a real deployment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import trustme

#: Names the server certificate is valid for: clients connect over loopback by name or by address
#: (127.0.0.2 is the dev servers' "strict" address, see ``dovecot.STRICT_HOST``).
DEFAULT_IDENTITIES: tuple[str, ...] = ("localhost", "127.0.0.1", "127.0.0.2")


@dataclass(frozen=True)
class CertFiles:
    """PEM files of one throwaway CA and the server certificate it issued."""

    ca_pem: Path
    """The CA certificate: what clients trust."""
    cert_pem: Path
    """The server certificate followed by its chain (leaf first), as Dovecot and Postfix expect."""
    key_pem: Path
    """The server's private key (unencrypted)."""


def make_certs(directory: Path, identities: tuple[str, ...] = DEFAULT_IDENTITIES) -> CertFiles:
    """Create a fresh CA and a server certificate for ``identities``; write them into ``directory``.

    Permissions: the certificates are world-readable (they are public). The key is readable by its
    owner only. That is enough for both servers: Dovecot's config process and Postfix's smtpd both read
    the key *before* dropping root privileges, and when not root every process runs as the same user.
    """
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="SharedClient demo CA")
    leaf = ca.issue_cert(*identities, organization_name="SharedClient demo server")
    files = CertFiles(
        ca_pem=directory / "ca.pem",
        cert_pem=directory / "server-cert.pem",
        key_pem=directory / "server-key.pem",
    )
    _write(files.ca_pem, ca.cert_pem.bytes(), 0o644)
    _write(files.cert_pem, b"".join(blob.bytes() for blob in leaf.cert_chain_pems), 0o644)
    _write(files.key_pem, leaf.private_key_pem.bytes(), 0o600)
    return files


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` with ``mode`` from the first byte on (no window where a key is world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, mode)  # O_CREAT honours the umask and leaves an existing file's mode alone
