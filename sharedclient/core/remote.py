"""Fetching a message's remote images, only when the user explicitly asks ("load once").

Bounded: http/https only, a timeout, a size cap per image and a cap on how many; no cookies, no
redirect to other schemes. Runs off the GUI thread.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Iterable

log = logging.getLogger(__name__)

MAX_IMAGES = 50
MAX_BYTES = 5 * 1024 * 1024
TIMEOUT = 10.0


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if not newurl.lower().startswith(("http://", "https://")):
            return None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_HttpOnlyRedirects())


def fetch_images(urls: Iterable[str]) -> dict[str, bytes]:
    """url -> bytes for the images that could be fetched; failures are logged and skipped."""
    images: dict[str, bytes] = {}
    for url in list(dict.fromkeys(urls))[:MAX_IMAGES]:
        if not url.lower().startswith(("http://", "https://")):
            continue
        try:
            with _OPENER.open(urllib.request.Request(url, headers={"User-Agent": "SharedClient"}), timeout=TIMEOUT) as resp:
                data = resp.read(MAX_BYTES + 1)
        except (OSError, urllib.error.URLError, ValueError) as exc:
            log.info("remote image %s not loaded: %s", url, exc)
            continue
        if len(data) <= MAX_BYTES:
            images[url] = data
    return images
