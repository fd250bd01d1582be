"""The three panes (folders, message list, reading pane) and how they are arranged.

Classic: folders | list over the message. Vertical: folders | list | message side by side. Wide list:
the list across the whole window, folders | message below it. Each arrangement keeps its own splitter
sizes, so switching back and forth restores what the user dragged.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

Sizes = dict[str, list[int]]  # "outer" / "inner" -> splitter sizes

DEFAULT_SIZES: dict[str, Sizes] = {
    "classic": {"outer": [300, 900], "inner": [330, 430]},
    "vertical": {"outer": [260, 440, 500]},
    "wide": {"outer": [300, 460], "inner": [300, 900]},
}
H, V = Qt.Orientation.Horizontal, Qt.Orientation.Vertical


class PaneLayout(QWidget):
    """Holds the panes in one of the arrangements of ``DEFAULT_SIZES``."""

    def __init__(self, folders: QWidget, messages: QWidget, reading: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folders, self.messages, self.reading = folders, messages, reading
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.mode = ""
        self.outer: QSplitter | None = None
        self.inner: QSplitter | None = None
        self.sizes: dict[str, Sizes] = {mode: dict(s) for mode, s in DEFAULT_SIZES.items()}
        self.set_mode("classic")

    def set_mode(self, mode: str) -> None:
        if mode not in DEFAULT_SIZES:
            raise ValueError(f"unknown layout {mode!r}")
        if mode == self.mode:
            return
        if self.outer is not None:
            self.sizes[self.mode] = self.current_sizes()
        old = self.outer
        if mode == "classic":
            outer = self._splitter(H, "outerSplitter", [self.folders])
            inner = self._splitter(V, "innerSplitter", [self.messages, self.reading])
            outer.addWidget(inner)
        elif mode == "vertical":
            outer, inner = self._splitter(H, "outerSplitter", [self.folders, self.messages, self.reading]), None
        else:
            outer = self._splitter(V, "outerSplitter", [self.messages])
            inner = self._splitter(H, "innerSplitter", [self.folders, self.reading])
            outer.addWidget(inner)
        if old is not None:
            self._layout.removeWidget(old)
            old.deleteLater()  # the panes have moved out already; only empty splitters go
        self._layout.addWidget(outer)
        self.outer, self.inner, self.mode = outer, inner, mode
        self.apply_sizes(self.sizes[mode])

    def _splitter(self, orientation: Qt.Orientation, name: str, widgets: list[QWidget]) -> QSplitter:
        splitter = QSplitter(orientation)
        splitter.setObjectName(name)
        splitter.setChildrenCollapsible(False)
        for widget in widgets:
            splitter.addWidget(widget)
        return splitter

    def current_sizes(self) -> Sizes:
        sizes: Sizes = {"outer": self.outer.sizes()} if self.outer is not None else {}
        if self.inner is not None:
            sizes["inner"] = self.inner.sizes()
        return sizes

    def apply_sizes(self, sizes: Sizes) -> None:
        """Sizes of the wrong length (a damaged or older file) are ignored, never half-applied."""
        for key, splitter in (("outer", self.outer), ("inner", self.inner)):
            wanted = sizes.get(key)
            if splitter is not None and wanted and len(wanted) == splitter.count() and all(n >= 0 for n in wanted):
                splitter.setSizes(wanted)

    def all_sizes(self) -> dict[str, Sizes]:
        """Every arrangement's sizes, the current one as it is on screen now."""
        if self.outer is not None:
            self.sizes[self.mode] = self.current_sizes()
        return {mode: dict(s) for mode, s in self.sizes.items()}

    def show_reading_pane(self, visible: bool) -> None:
        self.reading.setVisible(visible)

    def reading_pane_visible(self) -> bool:
        return not self.reading.isHidden()
