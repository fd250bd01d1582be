"""Window layout remembered per profile: geometry, arrangement, splitter sizes, columns and sort order.

Stored as ``window-state.json`` in the profile's data directory (not QSettings: one file per profile,
readable, written atomically). A missing or damaged file means the defaults; it never stops the window.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, Qt

from sharedclient.core.errors import StorageError
from sharedclient.core.fileio import atomic_write
from sharedclient.ui.panes import DEFAULT_SIZES

if TYPE_CHECKING:
    from sharedclient.ui.mainwindow import MainWindow

log = logging.getLogger(__name__)
FILE_NAME = "window-state.json"
VERSION = 1


@dataclass
class LayoutState:
    geometry: str = ""  # base64 of QWidget.saveGeometry(): size, position, maximized, screen
    mode: str = "classic"
    reading_pane: bool = True
    splitters: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    columns: list[int] = field(default_factory=list)  # message list column widths
    sort_column: int = 3
    sort_descending: bool = True


def _ints(value: Any) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(n, int) and not isinstance(n, bool) for n in value):
        raise ValueError("not a list of whole numbers")
    return value


def parse(data: dict[str, Any]) -> LayoutState:
    """Validate a decoded file; raises ValueError on anything unexpected."""
    if data.get("version") != VERSION:
        raise ValueError(f"unsupported version {data.get('version')!r}")
    state = LayoutState()
    state.geometry = str(data.get("geometry", ""))
    if data.get("mode", "classic") not in DEFAULT_SIZES:
        raise ValueError(f"unknown layout {data.get('mode')!r}")
    state.mode = data.get("mode", "classic")
    state.reading_pane = bool(data.get("reading_pane", True))
    splitters = data.get("splitters", {})
    if not isinstance(splitters, dict):
        raise ValueError("splitters is not an object")
    state.splitters = {
        mode: {key: _ints(sizes) for key, sizes in dict(value).items() if key in ("outer", "inner")}
        for mode, value in splitters.items() if mode in DEFAULT_SIZES
    }
    state.columns = _ints(data.get("columns", []))
    state.sort_column = int(data.get("sort_column", 3))
    state.sort_descending = bool(data.get("sort_descending", True))
    return state


def load(directory: Path) -> LayoutState:
    path = directory / FILE_NAME
    try:
        return parse(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return LayoutState()
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        log.warning("ignoring the saved window layout in %s: %s", path, exc)
        return LayoutState()


def save(directory: Path, state: LayoutState) -> None:
    data = {"version": VERSION, **asdict(state)}
    atomic_write(directory / FILE_NAME, json.dumps(data, indent=2, sort_keys=True).encode("utf-8"))


def capture(window: MainWindow) -> LayoutState:
    header = window.list_view.horizontalHeader()
    return LayoutState(
        geometry=base64.b64encode(bytes(window.saveGeometry().data())).decode("ascii"),
        mode=window.panes.mode,
        reading_pane=window.panes.reading_pane_visible(),
        splitters=window.panes.all_sizes(),
        columns=[header.sectionSize(i) for i in range(header.count())],
        sort_column=header.sortIndicatorSection(),
        sort_descending=header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder,
    )


def apply(window: MainWindow, state: LayoutState) -> None:
    """Restore before the window is shown, so it opens where it was and never jumps."""
    if state.geometry:
        try:
            window.restoreGeometry(QByteArray(base64.b64decode(state.geometry, validate=True)))
        except ValueError:
            log.warning("ignoring a damaged saved window geometry")
    for mode, sizes in state.splitters.items():
        window.panes.sizes[mode] = sizes
    window.set_layout_mode(state.mode)
    window.panes.apply_sizes(state.splitters.get(state.mode, {}))
    window.set_reading_pane(state.reading_pane)
    header = window.list_view.horizontalHeader()
    if len(state.columns) == header.count():
        for i, width in enumerate(state.columns):
            if header.sectionResizeMode(i) == header.ResizeMode.Interactive and width > 0:
                header.resizeSection(i, width)
    if 0 <= state.sort_column < header.count():
        order = Qt.SortOrder.DescendingOrder if state.sort_descending else Qt.SortOrder.AscendingOrder
        window.list_view.sortByColumn(state.sort_column, order)


def remember(window: MainWindow, directory: Path) -> None:
    """Save on close; a failure is logged and shown, the window still closes."""
    try:
        save(directory, capture(window))
    except StorageError as exc:
        log.warning("%s", exc.user_message)
