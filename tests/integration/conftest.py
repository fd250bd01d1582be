"""Fixtures of the integration tests (the servers themselves are in ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.integration.readpath import SessionFor, sessions

if TYPE_CHECKING:
    from tests.conftest import ImapServer


@pytest.fixture
def session_for(imap_server: ImapServer) -> Iterator[SessionFor]:
    """``session_for(user, port=None)`` -> an AccountSession (in-memory cache) closed after the test."""
    yield from sessions(imap_server)
