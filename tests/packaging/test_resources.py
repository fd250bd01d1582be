"""Desktop integration files: icon sizes, the .desktop entry and the AppStream metainfo validate."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RESOURCES = ROOT / "resources"
SIZES = (16, 32, 48, 64, 128, 256)


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:  # packaging/system-deps.sh test installs it; make test runs that first
        pytest.fail(f"{name} is missing: run `bash packaging/system-deps.sh test` (as root) first")
    return found


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("size", SIZES)
def test_png_icon_has_the_size_its_name_says(size: int) -> None:
    assert png_size(RESOURCES / "icons" / f"sharedclient-{size}.png") == (size, size)


def test_svg_icon_is_the_one_the_window_uses() -> None:
    shipped = (ROOT / "sharedclient" / "ui" / "icons" / "sharedclient.svg").read_bytes()
    assert (RESOURCES / "icons" / "sharedclient.svg").read_bytes() == shipped


def test_desktop_entry_validates() -> None:
    result = subprocess.run([tool("desktop-file-validate"), str(RESOURCES / "sharedclient.desktop")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_metainfo_validates_with_appstreamcli() -> None:
    metainfo = RESOURCES / "io.github.sharedclient.SharedClient.metainfo.xml"
    result = subprocess.run([tool("appstreamcli"), "validate", "--no-net", str(metainfo)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sharedclient.desktop" in metainfo.read_text()  # its launchable is the .desktop file we ship
