"""RFC 4314 rights: reading MYRIGHTS and saying in words what they allow."""

from __future__ import annotations

from imapclient import IMAPClient
from imapclient.response_lexer import TokenSource

from sharedclient.core.errors import PermissionDenied

# A server without the ACL extension: the user owns everything they can see.
FULL_RIGHTS = "lrswipkxtea"

_WORDS = {
    "l": "see",
    "r": "read",
    "s": "mark as read",
    "w": "flag and tag",
    "i": "add messages",
    "p": "post",
    "k": "create folders",
    "x": "delete folders",
    "t": "delete messages",
    "e": "expunge",
    "a": "administer",
}


def my_rights(client: IMAPClient, path: str) -> str:
    """MYRIGHTS for ``path``; full rights when the server has no ACL extension."""
    if not client.has_capability("ACL"):
        return FULL_RIGHTS
    data = client._command_and_check("myrights", client._normalise_folder(path))  # noqa: SLF001
    tokens = list(TokenSource(data))
    rights = tokens[-1] if len(tokens) >= 2 else b""
    text = rights.decode("ascii", "replace") if isinstance(rights, bytes) else str(rights)
    return normalise_rights(text)


def normalise_rights(text: str) -> str:
    """Canonical RFC 4314 letters in a stable order.

    RFC 4314 servers also report the obsolete virtual rights "c" and "d"; they are dropped. A pure
    RFC 2086 server (no k/x/t/e at all) means "c" = create folders and "d" = delete messages/folders.
    """
    if not set(text) & set("kxte"):
        text = text.replace("c", "k").replace("d", "xte")
    text = text.replace("c", "").replace("d", "")
    return "".join(sorted(set(text), key=lambda r: FULL_RIGHTS.find(r) if r in FULL_RIGHTS else 99))


def right_word(letter: str) -> str:
    """One right in words ("t" -> "delete messages"); an unknown letter is shown as it is."""
    return _WORDS.get(letter, f"right “{letter}”")


def describe_rights(rights: str, *, limits: bool = True) -> str:
    """ "read, mark as read; cannot delete or file" — what a desk worker needs to know.

    ``limits=False`` leaves out the "cannot …" part (for lists of what someone else was granted).
    """
    can = [_WORDS[r] for r in FULL_RIGHTS if r in rights and r in _WORDS and r != "l"]
    cannot = []
    if "t" not in rights:
        cannot.append("delete")
    if "i" not in rights:
        cannot.append("file")
    if "w" not in rights:
        cannot.append("flag")
    text = ", ".join(can) if can else ("see the folder name only" if "l" in rights else "no access")
    if cannot and limits:
        text += "; cannot " + (", ".join(cannot[:-1]) + " or " + cannot[-1] if len(cannot) > 1 else cannot[0])
    return text


def is_read_only(rights: str) -> bool:
    return not ({"i", "w", "t"} & set(rights))


def access_summary(rights: str) -> str:
    """The second half of a refusal: "you have read-only access (read, mark as read)"."""
    can = [_WORDS[r] for r in FULL_RIGHTS if r in rights and r in _WORDS and r != "l"]
    if "r" not in rights:
        return "you have no access to its messages"
    if is_read_only(rights):
        return f"you have read-only access ({', '.join(can)})"
    return f"your access is limited to: {', '.join(can)}"


def require_rights(rights: str, needed: str, what: str) -> None:
    """Raise PermissionDenied in plain words unless ``rights`` has every letter of ``needed``.

    ``what`` completes "You may not …", e.g. "delete messages in support@example.test's INBOX".
    Checked before acting because Dovecot silently ignores a STORE of flags the user may not set
    (it answers OK), so without this check the user would see nothing happen and no reason why.
    """
    if any(letter not in rights for letter in needed):
        raise PermissionDenied(f"You may not {what}: {access_summary(rights)}.")
