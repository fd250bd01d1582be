"""Small SVG icons shipped with the package, and the status strip of the message list."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap

_DIR = Path(__file__).parent
SIZE = 16


@cache
def icon(name: str) -> QIcon:
    return QIcon(str(_DIR / f"{name}.svg"))


@cache
def status_strip(names: tuple[str, ...]) -> QPixmap:
    """One pixmap holding the icons for a row's state (unread, flagged, answered, attachment...)."""
    pixmap = QPixmap(SIZE * max(len(names), 1) + 2 * max(len(names) - 1, 0), SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    for i, name in enumerate(names):
        icon(name).paint(painter, i * (SIZE + 2), 0, SIZE, SIZE)
    painter.end()
    return pixmap
