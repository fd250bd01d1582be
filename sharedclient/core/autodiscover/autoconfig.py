"""Thunderbird's autoconfig convention: ``config-v1.1.xml`` published by the mail domain over HTTPS.

Looked for at ``https://autoconfig.<domain>/mail/config-v1.1.xml`` and
``https://<domain>/.well-known/autoconfig/mail/config-v1.1.xml``. Only HTTPS with a verified certificate
is used (a redirect to plain HTTP is refused), because whoever answers decides where the password goes.
The XML comes from the network, so it is parsed defensively: at most :data:`MAX_BYTES`, no document type
or entity declarations at all (no billion laughs, no external entities), bounded depth and element count.
Servers asking for plaintext connections or for non-password logins (OAuth2) are skipped.
"""

from __future__ import annotations

import logging
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.parsers import expat

from sharedclient.core.errors import NetworkError, ProtocolError
from sharedclient.core.model import Endpoint, Security

log = logging.getLogger(__name__)

MAX_BYTES = 256 * 1024
MAX_ELEMENTS = 2000
MAX_DEPTH = 16
HTTP_TIMEOUT = 10.0
_SOCKET_TYPES = {"SSL": Security.TLS, "TLS": Security.TLS, "STARTTLS": Security.STARTTLS}
_PASSWORD_AUTH = {"password-cleartext", "plain", "password-encrypted", "secure"}
_HOST_RE = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+$")


@dataclass(frozen=True)
class ConfigServer:
    endpoint: Endpoint
    username: str  # placeholders already filled in


@dataclass(frozen=True)
class AutoconfigResult:
    url: str
    imap: ConfigServer | None
    smtp: ConfigServer | None


#: ``urls(domain, email)`` -> the URLs to try, in order (tests point this at a loopback server).
UrlPlan = Callable[[str, str], Sequence[str]]


def default_urls(domain: str, email: str) -> list[str]:
    query = urllib.parse.urlencode({"emailaddress": email})
    return [
        f"https://autoconfig.{domain}/mail/config-v1.1.xml?{query}",
        f"https://{domain}/.well-known/autoconfig/mail/config-v1.1.xml?{query}",
    ]


# ------------------------------------------------------------------------------------------- parsing


def safe_parse(data: bytes) -> ET.Element:
    """Parse untrusted XML into an Element, refusing DTDs, entities, huge or deeply nested documents."""
    if len(data) > MAX_BYTES:
        raise ProtocolError(f"The configuration file is larger than {MAX_BYTES // 1024} KiB, so it was not read.")
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate()
    state = {"depth": 0, "count": 0}

    def refuse(*_args: object) -> None:
        raise ProtocolError("The configuration file declares a document type or entities, which is not allowed.")

    def start(tag: str, attrs: dict[str, str]) -> None:
        state["depth"] += 1
        state["count"] += 1
        if state["depth"] > MAX_DEPTH or state["count"] > MAX_ELEMENTS:
            raise ProtocolError("The configuration file is nested too deeply or has too many elements.")
        builder.start(tag, attrs)

    def end(tag: str) -> None:
        state["depth"] -= 1
        builder.end(tag)

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise ProtocolError(f"The configuration file is not valid XML ({expat.errors.messages.get(exc.code, exc)}).") from None
    return builder.close()


def _fill(template: str, email: str) -> str:
    local, _, domain = email.partition("@")
    return (
        template.replace("%EMAILADDRESS%", email).replace("%EMAILLOCALPART%", local).replace("%EMAILDOMAIN%", domain)
    ).strip()


def _server(element: ET.Element, email: str) -> ConfigServer | None:
    host = (element.findtext("hostname") or "").strip().rstrip(".").lower()
    port_text = (element.findtext("port") or "").strip()
    security = _SOCKET_TYPES.get((element.findtext("socketType") or "").strip().upper())
    auths = {(a.text or "").strip().lower() for a in element.findall("authentication")} or {"password-cleartext"}
    if security is None or not _HOST_RE.match(host) or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        return None  # plaintext, or malformed: never offered
    if not auths & _PASSWORD_AUTH:
        return None  # OAuth2/GSSAPI/client certificates only: SharedClient logs in with a password
    username = _fill(element.findtext("username") or "%EMAILADDRESS%", email)
    return ConfigServer(Endpoint(host, int(port_text), security), username or email)


def parse_config(data: bytes, email: str, url: str = "") -> AutoconfigResult:
    """The first usable IMAP and SMTP server of a ``clientConfig`` document (document order = preference)."""
    root = safe_parse(data)
    if root.tag != "clientConfig":
        raise ProtocolError("The configuration file is not a mail client configuration (no <clientConfig>).")
    imap = smtp = None
    for provider in root.findall("emailProvider"):
        for element in provider.findall("incomingServer"):
            if imap is None and element.get("type") == "imap":
                imap = _server(element, email)
        for element in provider.findall("outgoingServer"):
            if smtp is None and element.get("type") == "smtp":
                smtp = _server(element, email)
    return AutoconfigResult(url, imap, smtp)


# ------------------------------------------------------------------------------------------- fetching


class _HttpsOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if urllib.parse.urlsplit(newurl).scheme != "https":
            raise NetworkError(f"{req.full_url} redirected to a non-HTTPS address, which is not trusted.")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch(url: str, context: ssl.SSLContext, timeout: float = HTTP_TIMEOUT) -> bytes | None:
    """The document at ``url`` (None when there is none: 404, unknown host); HTTPS only, size-limited."""
    if urllib.parse.urlsplit(url).scheme != "https":
        raise NetworkError(f"{url} is not an HTTPS address; autoconfig is only read over HTTPS.")
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), _HttpsOnlyRedirects())
    request = urllib.request.Request(url, headers={"User-Agent": "SharedClient autoconfig"})
    try:
        with opener.open(request, timeout=timeout) as response:
            data = response.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        log.info("autoconfig %s: HTTP %s", url, exc.code)
        return None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ssl.SSLError):
            raise NetworkError(f"The certificate of {urllib.parse.urlsplit(url).hostname} is not trusted ({reason}).") from None
        log.info("autoconfig %s: %s", url, reason)
        return None
    except (OSError, ValueError) as exc:
        log.info("autoconfig %s: %s", url, exc)
        return None
    if len(data) > MAX_BYTES:
        raise ProtocolError(f"{url} sent more than {MAX_BYTES // 1024} KiB, so it was not read.")
    return data


def lookup(
    email: str,
    *,
    urls: UrlPlan = default_urls,
    context: ssl.SSLContext | None = None,
    timeout: float = HTTP_TIMEOUT,
    note: Callable[[str], None] = lambda _text: None,
) -> AutoconfigResult | None:
    """Try each URL in turn; the first document naming a usable server wins."""
    domain = email.rpartition("@")[2].lower()
    context = context or ssl.create_default_context()
    for url in urls(domain, email):
        shown = url.split("?", 1)[0]
        try:
            data = fetch(url, context, timeout)
            if data is None:
                note(f"No configuration at {shown}.")
                continue
            result = parse_config(data, email, shown)
        except (NetworkError, ProtocolError) as exc:
            note(f"{shown}: {exc.user_message}")
            continue
        if result.imap or result.smtp:
            return result
        note(f"{shown} names no IMAP or SMTP server SharedClient can use securely.")
    return None
