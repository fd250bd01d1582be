"""Saving attachments: a file name the sender chose must never escape the folder the user chose,
overwrite a file, or disguise its type (``../``, absolute paths, ``C:\\``, ``\\\\host\\share``, NUL,
right-to-left override, reserved Windows names, 300-character names)."""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

from sharedclient.core.errors import StorageError

MAX_NAME_BYTES = 200
_RESERVED = {
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
    *(f"COM{i}" for i in (*range(1, 10), "¹", "²", "³")), *(f"LPT{i}" for i in (*range(1, 10), "¹", "²", "³")),
}  # fmt: skip
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')


def safe_filename(name: str, fallback: str = "attachment") -> str:
    """A single path component that is safe on Linux, macOS and Windows."""
    name = unicodedata.normalize("NFC", name or "")
    # Drop bidirectional controls (U+202E makes "exe.pdf" look like "fdp.exe") and other format chars.
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cf", "Cc", "Cs", "Co"))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]  # keep only the last component of any path
    name = " ".join(_UNSAFE.sub("_", name).split()).strip(" .")  # "invoice.pdf      .exe" hides nothing
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    if stem.split(".")[0].strip().upper() in _RESERVED or name.upper() in _RESERVED:
        stem = "_" + stem
    name = f"{stem}.{ext}" if ext else stem
    while len(name.encode("utf-8")) > MAX_NAME_BYTES:
        if ext and len(ext) < 16 and len(stem) > 1:
            stem = stem[:-1]
            name = f"{stem}.{ext}"
        else:
            name = name[:-1]
    return name or fallback


def unique_path(folder: Path, name: str) -> Path:
    """``folder/name``, or ``folder/name (2).ext`` etc. when taken; always inside ``folder``."""
    folder = folder.resolve()
    base = safe_filename(name)
    stem, dot, ext = base.rpartition(".")
    if not dot or not stem:
        stem, ext = base, ""
    candidate = folder / base
    n = 2
    while os.path.lexists(candidate):  # lexists: a dangling symlink is taken too, and never followed
        candidate = folder / (f"{stem} ({n}).{ext}" if ext else f"{stem} ({n})")
        n += 1
    if candidate.resolve().parent != folder:
        raise StorageError(f"Refusing to save “{name}” outside {folder}.")
    return candidate


def save_attachment(folder: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to a new file in ``folder`` (never overwriting); return where it went."""
    if not folder.is_dir():
        raise StorageError(f"Could not save “{safe_filename(name)}”: the folder {folder} does not exist.")
    for _attempt in range(100):
        path = unique_path(folder, name)
        try:  # O_EXCL|O_NOFOLLOW: never an existing file, never through a symlink planted meanwhile
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
            break
        except FileExistsError:  # lost a race with another writer: pick the next free name
            continue
        except OSError as exc:
            raise StorageError(f"Could not save {path.name} in {folder}: {exc.strerror or exc}.") from exc
    else:
        raise StorageError(f"Could not find a free name for “{safe_filename(name)}” in {folder}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise StorageError(f"Could not save {path.name} in {folder}: {exc.strerror or exc}.") from exc
    return path
