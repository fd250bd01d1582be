"""core/ must stay free of Qt so it can be tested and reused alone."""

import subprocess
import sys
from pathlib import Path

import sharedclient


def test_importing_all_of_core_never_imports_pyside6() -> None:
    core = Path(sharedclient.__file__).parent / "core"
    modules = sorted(
        "sharedclient." + ".".join(p.relative_to(core.parent).with_suffix("").parts)
        for p in core.rglob("*.py")
        if p.name != "__init__.py"
    )
    assert "sharedclient.core.worker" in modules  # the scan really found the package
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules) + (
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
