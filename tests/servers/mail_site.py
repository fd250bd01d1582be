"""A mail domain's public face for autodiscovery tests: an HTTPS autoconfig server and TLS front doors.

``MailSite`` owns a throwaway CA whose certificate names the domain's usual hosts (``autoconfig.``,
``imap.``, ``mail.``, ``smtp.`` and ``localhost``). The HTTPS server serves autoconfig XML on loopback;
:meth:`front_door` puts a TLS-terminating relay (``RewritingProxy`` in intercept mode) with that
certificate in front of the real Dovecot or Postfix, so a guessed name can be verified over TLS and the
protocol behind it is still the real server. ``bundle`` trusts both this CA and the test servers' CA.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme

from tests.servers.proxy import Intercept, RewritingProxy

DOMAIN = "example.test"
NAMES = ("localhost", "127.0.0.1", f"autoconfig.{DOMAIN}", f"imap.{DOMAIN}", f"mail.{DOMAIN}", f"smtp.{DOMAIN}")


class MailSite:
    def __init__(self, directory: Path, servers_ca: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.ca = trustme.CA(organization_name="Mail site test CA")
        leaf = self.ca.issue_cert(*NAMES)
        self.cert_pem = directory / "site-cert.pem"
        self.key_pem = directory / "site-key.pem"
        self.cert_pem.write_bytes(b"".join(b.bytes() for b in leaf.cert_chain_pems))
        self.key_pem.write_bytes(leaf.private_key_pem.bytes())
        self.bundle = directory / "trusted.pem"  # the site CA and the mail servers' CA
        self.bundle.write_bytes(self.ca.cert_pem.bytes() + servers_ca.read_bytes())
        self.documents: dict[str, bytes] = {}  # path -> body; everything else is 404
        self.requests: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                site.requests.append(self.path)
                body = site.documents.get(self.path.split("?", 1)[0])
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/xml")
                self.end_headers()
                self.wfile.write(body or b"not here")

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.cert_pem), str(self.key_pem))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"https://localhost:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @contextlib.contextmanager
    def front_door(self, host: str, port: int, mode: str = "implicit") -> Iterator[RewritingProxy]:
        """A relay presenting this site's certificate in front of a real server (``mode``: implicit/starttls)."""
        with RewritingProxy(host, port, intercept=Intercept(self.cert_pem, self.key_pem, mode)) as proxy:
            yield proxy


def autoconfig_xml(imap: tuple[str, int, str], smtp: tuple[str, int, str], username: str = "%EMAILADDRESS%") -> bytes:
    """A Thunderbird ``config-v1.1.xml`` naming these (host, port, socketType) servers."""
    def server(tag: str, kind: str, host: str, port: int, socket_type: str) -> str:
        return (f'<{tag} type="{kind}"><hostname>{host}</hostname><port>{port}</port>'
                f"<socketType>{socket_type}</socketType><authentication>password-cleartext</authentication>"
                f"<username>{username}</username></{tag}>")  # fmt: skip

    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<clientConfig version="1.1"><emailProvider id="example.test">'
        f"<domain>{DOMAIN}</domain><displayName>Example Test Mail</displayName>"
        + server("incomingServer", "imap", *imap)
        + server("outgoingServer", "smtp", *smtp)
        + "</emailProvider></clientConfig>"
    ).encode()


@pytest.fixture
def mail_site(mail_servers, tmp_path: Path) -> Iterator[MailSite]:  # type: ignore[no-untyped-def]
    """A ``MailSite`` for example.test whose bundle also trusts the real test servers."""
    site = MailSite(tmp_path / "site", mail_servers.certs.ca_pem)
    try:
        yield site
    finally:
        site.close()
