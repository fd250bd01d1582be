"""``UID FETCH`` read straight off the socket in large blocks, yielding one record per message as it arrives.

imaplib frames a response line by line in Python (``readline`` per line, regular expressions per
response, a list of every piece kept until the tagged reply): for a 50,000-message list that framing
costs more than the wire and the server together, and nothing can be processed before the last byte
has arrived. Here the command is still sent by imaplib (its tag, state checks and protocol log), but the
answer is read with ``read1`` into one buffer, literals are cut out by their ``{n}`` counts, and each
``FETCH`` is handed to ``fetchparse`` right away, so the caller's work overlaps the server's.

Untagged responses other than FETCH (``EXISTS``, ``VANISHED`` …) go into imaplib's
``untagged_responses`` exactly as imaplib would file them; ``* BYE`` or a closed socket raise
``imaplib.IMAP4.abort`` (the worker reconnects); a ``NO``/``BAD`` completion raises ``ProtocolError``.
Where the connection's reader is not a plain buffered file (Python 3.14 changed imaplib's reading),
the same records come from imaplib's own framing.
"""

from __future__ import annotations

import imaplib
import io
import logging
import re
from collections.abc import Iterator

from sharedclient.core.errors import ProtocolError
from sharedclient.core.imap.fetchparse import RawFetch, parse_fetch, parse_one

log = logging.getLogger(__name__)

_BLOCK = 1 << 18  # bytes asked of the socket per read
_LITERAL = re.compile(rb"\{(\d+)\+?\}$")
_FETCH = re.compile(rb"\* (\d+) FETCH ")
_MAX_LINE = 1 << 24  # a line (not literal) longer than this is a broken or hostile server


def uid_fetch(imap: imaplib.IMAP4, uid_set: str, items: str, modifiers: str = "") -> Iterator[RawFetch]:
    """Send ``UID FETCH uid_set items [modifiers]`` and yield its FETCH records as they are read.

    Consume the iterator to the end: the connection is only ready for the next command after the tagged
    reply has been read (an iterator abandoned half-way leaves the rest of the answer unread).
    """
    args = [uid_set, items] + ([modifiers] if modifiers else [])
    reader = getattr(imap, "file", None)
    if not isinstance(reader, io.BufferedReader):
        yield from _via_imaplib(imap, args)
        return
    try:
        tag = imap._command("UID", "FETCH", *args)  # noqa: SLF001 - imaplib's tag, state check and log
    except OSError as exc:
        raise imaplib.IMAP4.abort(f"socket error: {exc}") from exc
    try:
        yield from _read_until(imap, reader, tag)
    finally:
        imap.tagged_commands.pop(tag, None)


def _via_imaplib(imap: imaplib.IMAP4, args: list[str]) -> Iterator[RawFetch]:
    typ, data = imap.uid("FETCH", *args)
    if typ != "OK":
        raise ProtocolError(f"The server refused to list messages: {data[0]!r}.")
    yield from parse_fetch(data)


def _read_until(imap: imaplib.IMAP4, reader: io.BufferedReader, tag: bytes) -> Iterator[RawFetch]:
    buf = bytearray()
    pos = 0  # start of the first unconsumed response in buf
    scan = 0  # where to look for the next CRLF
    pieces: list[bytes] = []  # text before each literal of the response being read, ending in {n}
    literals: list[bytes] = []
    while True:
        eol = buf.find(b"\r\n", scan)
        if eol < 0:
            if len(buf) - pos > _MAX_LINE:
                raise imaplib.IMAP4.abort("The server sent a line longer than 16 MB; the connection was closed.")
            scan = max(pos, len(buf) - 1)
            if pos > _BLOCK:
                del buf[:pos]
                scan -= pos
                pos = 0
            chunk = reader.read1(_BLOCK)
            if not chunk:
                raise imaplib.IMAP4.abort("The server closed the connection in the middle of an answer.")
            buf += chunk
            continue
        line = bytes(buf[pos:eol])
        literal = _LITERAL.search(line)
        if literal is not None:
            size = int(literal.group(1))
            end = eol + 2 + size
            while len(buf) < end:
                chunk = reader.read1(max(_BLOCK, end - len(buf)))
                if not chunk:
                    raise imaplib.IMAP4.abort("The server closed the connection in the middle of a message.")
                buf += chunk
            pieces.append(line)
            literals.append(bytes(buf[eol + 2 : end]))
            pos = scan = end
            continue
        pos = scan = eol + 2
        if pieces:
            record = _literal_response(pieces, literals, line)
            pieces, literals = [], []
            if record is not None:
                yield record
            continue
        if line.startswith(tag + b" "):
            _check_completion(line[len(tag) + 1 :])
            return
        record = _line_response(imap, line)
        if record is not None:
            yield record


def _literal_response(pieces: list[bytes], literals: list[bytes], rest: bytes) -> RawFetch | None:
    """A response that carried literals: a FETCH with its header block, or (rarely) something else."""
    head = pieces[0]
    m = _FETCH.match(head)
    if m is None:
        log.debug("ignoring untagged response with a literal: %r", head[:80])
        return None
    prefix = m.group(1) + b" " + head[m.end() :]  # imaplib's shape: "12 (UID 7 … {345}"
    if len(literals) == 1:
        return parse_one(prefix, rest, literals[0])
    # Several literals (a server quoting FLAGS or a date as a literal): keep the header block, the
    # first literal of BODY[…] shape, and read the items from all the text around them.
    text = b" ".join(pieces + [rest])
    return parse_one(prefix, rest, literals[-1], text=text)


def _line_response(imap: imaplib.IMAP4, line: bytes) -> RawFetch | None:
    m = _FETCH.match(line)
    if m is not None:
        return parse_one(m.group(1) + b" " + line[m.end() :], b"", None)
    if line.startswith(b"* BYE"):
        raise imaplib.IMAP4.abort(line[6:].decode("utf-8", "replace") or "The server closed the connection.")
    status = imaplib.Untagged_status.match(line)
    if status is not None:
        typ, dat = status.group("type"), status.group("data")
    else:
        plain = imaplib.Untagged_response.match(line)
        if plain is None:
            raise ProtocolError(f"The server sent an answer that is not IMAP: {line[:80]!r}.")
        typ, dat = plain.group("type"), plain.group("data")
    imap._append_untagged(typ.decode("ascii"), dat)  # noqa: SLF001 - filed as imaplib would
    return None


def _check_completion(status: bytes) -> None:
    if status.startswith(b"OK"):
        return
    text = status.decode("utf-8", "replace")
    if status.startswith((b"NO", b"BAD")):
        raise ProtocolError(f"The server refused to list messages: {text}.")
    raise imaplib.IMAP4.abort(f"unexpected answer to UID FETCH: {text}")
