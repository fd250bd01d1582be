"""A non-modal bar for problems: the plain sentence, a "Details" expander, and a close button.

It never blocks work (no dialog) and never shows a traceback: details are facts a helpdesk can use —
which account, when, what kind of problem, and the server's own words when there were any.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QStyle, QToolButton, QVBoxLayout, QWidget

from sharedclient.core.errors import SharedClientError

KEEP = 20  # problems remembered for the details view


@dataclass(frozen=True)
class Problem:
    message: str  # the plain sentence
    details: str  # facts, one per line; never a traceback
    when: float


def problem_from(message: str, account: str = "", error: BaseException | None = None, now: float | None = None) -> Problem:
    """Build the details from what is known; an exception contributes its kind and its cause's words."""
    lines = []
    if account:
        lines.append(f"Account: {account}")
    when = time.time() if now is None else now
    lines.append("Time: " + time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when)))
    if error is not None:
        lines.append(f"Kind: {type(error).__name__}")
        cause = error.__cause__ or error.__context__
        if cause is not None and str(cause) and str(cause) not in message:
            lines.append(f"Reported by the system: {type(cause).__name__}: {str(cause).splitlines()[0]}")
        reply = getattr(error, "smtp_reply", "")
        if reply:
            lines.append(f"Server reply: {reply}")
    return Problem(message, "\n".join(lines), when)


class ErrorBar(QFrame):
    """Shows the latest problem; the details list the recent ones, newest first."""

    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorBar")
        self.setAccessibleName(self.tr("Problem"))
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)  # the palette's own colours: right in light and dark themes
        self.setBackgroundRole(QPalette.ColorRole.AlternateBase)
        self.problems: list[Problem] = []
        icon = QLabel()
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(20, 20))
        self.message = QLabel()
        self.message.setObjectName("errorMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_button = QToolButton()
        self.details_button.setObjectName("errorDetailsButton")
        self.details_button.setText(self.tr("Details"))
        self.details_button.setCheckable(True)
        self.details_button.setArrowType(Qt.ArrowType.RightArrow)
        self.details_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.details_button.setAccessibleName(self.tr("Show details"))
        self.details_button.toggled.connect(self._show_details)
        close = QToolButton()
        close.setObjectName("errorCloseButton")
        close.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_TitleBarCloseButton))
        close.setAutoRaise(True)
        close.setToolTip(self.tr("Dismiss"))
        close.setAccessibleName(self.tr("Dismiss problem"))
        close.clicked.connect(self.dismiss)
        self.close_button = close
        self.details = QPlainTextEdit()
        self.details.setObjectName("errorDetails")
        self.details.setAccessibleName(self.tr("Problem details"))
        self.details.setReadOnly(True)
        self.details.setMaximumHeight(120)
        self.details.hide()
        row = QHBoxLayout()
        row.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.message, 1)
        row.addWidget(self.details_button, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addLayout(row)
        layout.addWidget(self.details)
        self.hide()

    def show_problem(self, problem: Problem) -> None:
        if self.problems and self.problems[0].message == problem.message:
            self.problems[0] = problem  # the same trouble again (a retry): no pile of duplicates
        else:
            self.problems.insert(0, problem)
            del self.problems[KEEP:]
        more = len(self.problems) - 1
        text = problem.message
        if more:
            text += " " + (self.tr("(1 earlier problem in the details)") if more == 1 else
                           self.tr("(%1 earlier problems in the details)").replace("%1", str(more)))
        self.message.setText(text)
        self.setAccessibleDescription(problem.message)
        self._fill_details()
        self.show()

    def show_error(self, error: SharedClientError, account: str = "") -> None:
        self.show_problem(problem_from(error.user_message, account, error))

    def _fill_details(self) -> None:
        blocks = [f"{p.message}\n{p.details}" for p in self.problems]
        self.details.setPlainText("\n\n".join(blocks))

    def _show_details(self, shown: bool) -> None:
        self.details.setVisible(shown)
        self.details_button.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self.details_button.setAccessibleName(self.tr("Hide details") if shown else self.tr("Show details"))

    def dismiss(self) -> None:
        self.problems.clear()
        self.details_button.setChecked(False)
        self.hide()
        self.dismissed.emit()
