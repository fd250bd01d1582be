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
from collections import deque
from collections.abc import Iterator, Sequence

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
    reader = _reader(imap)
    if reader is None:
        yield from _via_imaplib(imap, args)
        return
    stream = _Stream(imap, reader)
    yield from stream.answer(_send(imap, args))
    stream.finish()


def pipelined_uid_fetch(imap: imaplib.IMAP4, uid_sets: Sequence[str], items: str) -> Iterator[list[RawFetch]]:
    """One list of records per UID set, with the next command always sent before an answer is read.

    The server then works on batch n+1 while the caller stores batch n, instead of idling between
    commands. When the caller stops early (``close()``, an exception), the command still in flight is
    read to its end if the connection is still in step, so the session stays usable.
    """
    reader = _reader(imap)
    if reader is None:
        for uid_set in uid_sets:
            yield list(_via_imaplib(imap, [uid_set, items]))
        return
    stream = _Stream(imap, reader)
    in_flight: deque[bytes] = deque()
    for n, uid_set in enumerate(uid_sets):
        try:
            if n == 0:
                in_flight.append(_send(imap, [uid_set, items]))
            if n + 1 < len(uid_sets):
                in_flight.append(_send(imap, [uid_sets[n + 1], items]))
            records = list(stream.answer(in_flight.popleft()))
        except BaseException:
            stream.drain(in_flight)
            raise
        try:
            yield records
        except GeneratorExit:
            stream.drain(in_flight)
            raise
    stream.finish()


def _reader(imap: imaplib.IMAP4) -> io.BufferedReader | None:
    reader = getattr(imap, "file", None)
    return reader if isinstance(reader, io.BufferedReader) else None


def _send(imap: imaplib.IMAP4, args: list[str]) -> bytes:
    try:
        return imap._command("UID", "FETCH", *args)  # noqa: SLF001 - imaplib's tag, state check and log
    except OSError as exc:
        raise imaplib.IMAP4.abort(f"socket error: {exc}") from exc


def _via_imaplib(imap: imaplib.IMAP4, args: list[str]) -> Iterator[RawFetch]:
    typ, data = imap.uid("FETCH", *args)
    if typ != "OK":
        raise ProtocolError(f"The server refused to list messages: {data[0]!r}.")
    yield from parse_fetch(data)


class _Stream:
    """The connection's input as one buffer across the answers of pipelined commands.

    Blocks read from the socket run past the end of one answer into the next; the buffer keeps them.
    ``in_step`` turns False when an answer was not read to its tagged line (a closed socket, garbage):
    nothing more can be read from this connection sensibly, and the worker reconnects.
    """

    def __init__(self, imap: imaplib.IMAP4, reader: io.BufferedReader) -> None:
        self.imap, self.reader = imap, reader
        self.buf = bytearray()
        self.pos = 0  # start of the first unconsumed response in buf
        self.in_step = True

    def answer(self, tag: bytes) -> Iterator[RawFetch]:
        try:
            yield from self._read_until(tag)
        except ProtocolError as exc:
            if not getattr(exc, "completed", False):
                self.in_step = False
            raise
        except BaseException:
            self.in_step = False
            raise
        finally:
            self.imap.tagged_commands.pop(tag, None)

    def drain(self, tags: deque[bytes]) -> None:
        """Read the answers of commands sent but not yet read (errors ignored: the session is then lost)."""
        while tags and self.in_step:
            tag = tags.popleft()
            try:
                for _ in self.answer(tag):
                    pass
            except (OSError, imaplib.IMAP4.error, ProtocolError):
                break

    def finish(self) -> None:
        """Servers send nothing after the last tagged reply; if this one did, file complete untagged lines
        as imaplib would, and treat a partial one as a connection out of step."""
        rest = bytes(self.buf[self.pos :])
        self.buf, self.pos = bytearray(), 0
        if not rest:
            return
        lines = rest.split(b"\r\n")
        for line in lines[:-1]:
            if line:
                _line_response(self.imap, line)
        if lines[-1]:
            raise imaplib.IMAP4.abort("The server sent data nobody asked for; the connection was closed.")

    def _more(self, at_least: int = 1) -> None:
        if self.pos > _BLOCK:
            del self.buf[: self.pos]
            self.pos = 0
        while True:
            chunk = self.reader.read1(max(_BLOCK, at_least))
            if not chunk:
                raise imaplib.IMAP4.abort("The server closed the connection in the middle of an answer.")
            self.buf += chunk
            at_least -= len(chunk)
            if at_least <= 0:
                return

    def _read_until(self, tag: bytes) -> Iterator[RawFetch]:
        pieces: list[bytes] = []  # text before each literal of the response being read, ending in {n}
        literals: list[bytes] = []
        scan = self.pos  # where to look for the next CRLF
        while True:
            eol = self.buf.find(b"\r\n", scan)
            if eol < 0:
                if len(self.buf) - self.pos > _MAX_LINE:
                    raise imaplib.IMAP4.abort("The server sent a line longer than 16 MB; the connection was closed.")
                offset = max(0, len(self.buf) - 1 - self.pos)  # a CR may end the buffer
                self._more()
                scan = self.pos + offset
                continue
            pos = self.pos
            line = bytes(self.buf[pos:eol])
            literal = _LITERAL.search(line)
            if literal is not None:
                end = eol + 2 + int(literal.group(1))
                if len(self.buf) < end:
                    start_off, end_off = eol + 2 - pos, end - pos
                    self._more(end - len(self.buf))
                    pos = self.pos
                    eol, end = pos + start_off - 2, pos + end_off
                pieces.append(line)
                literals.append(bytes(self.buf[eol + 2 : end]))
                self.pos = scan = end
                continue
            self.pos = scan = eol + 2
            if pieces:
                record = _literal_response(pieces, literals, line)
                pieces, literals = [], []
                if record is not None:
                    yield record
                continue
            if line.startswith(tag + b" "):
                _check_completion(line[len(tag) + 1 :])
                return
            record = _line_response(self.imap, line)
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
        refused = ProtocolError(f"The server refused to list messages: {text}.")
        refused.completed = True  # type: ignore[attr-defined]  # the answer was read to its end: still in step
        raise refused
    raise imaplib.IMAP4.abort(f"unexpected answer to UID FETCH: {text}")
