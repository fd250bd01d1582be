"""Colours that follow the system's light or dark palette.

Widgets use the palette's roles where one fits (text, muted text, alternate base); for the few meaning
colours (online, warning, error, info) there is one shade for light and one for dark backgrounds, so
nothing becomes dark-on-dark when the desktop switches themes.
"""

from __future__ import annotations

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QWidget

_TONES = {  # meaning -> (on a light background, on a dark background)
    "ok": ("#2e7d32", "#81c784"),
    "warning": ("#b26a00", "#ffd54f"),
    "error": ("#c62828", "#ef9a9a"),
    "info": ("#1565c0", "#90caf9"),
    "neutral": ("#616161", "#bdbdbd"),
}


def palette_of(widget: QWidget | None = None) -> QPalette:
    return widget.palette() if widget is not None else QApplication.palette()


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def tone(meaning: str, widget: QWidget | None = None) -> str:
    """A colour name for ``meaning`` ("ok", "warning", "error", "info", "neutral") readable on the palette."""
    light, dark = _TONES[meaning]
    return dark if is_dark(palette_of(widget)) else light


def muted(widget: QWidget | None = None) -> str:
    """Secondary text: the palette's placeholder colour."""
    return palette_of(widget).color(QPalette.ColorRole.PlaceholderText).name()


def badge_css(widget: QWidget | None = None) -> str:
    """Inline style for a small label such as "read-only" in rich text."""
    pal = palette_of(widget)
    return (f"background:{pal.color(QPalette.ColorRole.AlternateBase).name()};"
            f"color:{pal.color(QPalette.ColorRole.Text).name()};padding:1px 4px")
