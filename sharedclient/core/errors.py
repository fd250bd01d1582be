"""Errors as values a desk worker can read.

Every failure that reaches a user is a :class:`SharedClientError` whose ``user_message`` is one plain
sentence (CLI prints it on stderr; the GUI shows it in the status bar or an info bar). The Python
exception text (``str(err)``) is the same sentence, so logging and tracebacks stay readable too.
"""

from __future__ import annotations


class SharedClientError(Exception):
    """Base of all errors SharedClient reports to a person."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class UsageError(SharedClientError):
    """The command line or a setting is malformed (bad HOST:PORT, bad address...)."""


class NotFoundError(SharedClientError):
    """An unknown profile, account or mailbox was named."""


class AlreadyExistsError(SharedClientError):
    """Creating something that already exists."""


class ProfileLockedError(SharedClientError):
    """Another running SharedClient uses the profile."""


class StorageError(SharedClientError):
    """A settings file or database cannot be read or written safely."""


class SecretStoreError(SharedClientError):
    """No secure keyring is available, or it refused the operation."""


class NetworkError(SharedClientError):
    """Host unknown, connection refused, timed out or dropped."""


class TlsError(NetworkError):
    """Certificate not trusted, wrong host name, or the TLS handshake failed."""


class StartTlsUnavailableError(TlsError):
    """The server does not offer STARTTLS although it was required; we never fall back to plaintext."""


class AuthError(SharedClientError):
    """The server rejected the user name or password."""


class ProtocolError(SharedClientError):
    """The server answered something we cannot use."""


class PermissionDenied(SharedClientError):
    """The server refused an action for lack of rights (IMAP NOPERM, SMTP 5.7.x)."""


class UnsafeMessageError(UsageError):
    """A composed message failed a safety check (header injection, recipients not matching the headers).

    Raised before anything touches the network: the message is never sent in another form than shown.
    """


class SendError(SharedClientError):
    """The submission server did not take the message.

    ``smtp_reply`` holds the server's own words ("553 5.7.1 …"), empty when there was no reply at all
    (network). ``permanent`` says whether sending the same bytes again would fail again (5xx) or may work
    later (4xx, network trouble): the outbox retries only the latter by itself.
    """

    def __init__(self, user_message: str, *, smtp_reply: str = "", permanent: bool = True) -> None:
        super().__init__(user_message)
        self.smtp_reply = smtp_reply
        self.permanent = permanent


class SenderRefused(SendError, PermissionDenied):
    """The server refused the envelope sender or the From address: no Send As / on-behalf permission."""


class RecipientsRefused(SendError):
    """One or more recipients were refused; nothing was sent (never to a subset). ``refused``: address → reply."""

    def __init__(
        self, user_message: str, refused: dict[str, str], *, smtp_reply: str = "", permanent: bool = True
    ) -> None:
        super().__init__(user_message, smtp_reply=smtp_reply, permanent=permanent)
        self.refused = refused


class DeliveryUncertain(SendError):
    """The connection broke after the whole message was handed over but before the server confirmed it.

    It may have been delivered, so it is never resent automatically (no double sends).
    """
