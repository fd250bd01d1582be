import subprocess
import sys
from pathlib import Path

import pytest

from sharedclient.core.errors import AlreadyExistsError, NotFoundError, ProfileLockedError, UsageError
from sharedclient.core.profiles import ProfileStore


def test_create_list_delete(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path)
    assert store.names() == []
    work = store.create("work")
    store.create("home")
    assert store.names() == ["home", "work"]
    assert work.settings_path.is_file()
    assert work.config_dir.is_relative_to(tmp_path) and work.data_dir.is_relative_to(tmp_path)
    with pytest.raises(AlreadyExistsError):
        store.create("work")
    store.delete("work")
    assert store.names() == ["home"]
    assert not work.data_dir.exists()
    with pytest.raises(NotFoundError, match="home"):
        store.get("work")


def test_default_profile_is_created_on_first_use(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path)
    assert store.get("default").config_dir.is_dir()


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden", "x" * 65, "a b"])
def test_bad_profile_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError):
        ProfileStore(tmp_path).create(name)


def test_lock_excludes_a_second_process_and_is_released(tmp_path: Path) -> None:
    profile = ProfileStore(tmp_path).create("p")
    code = (
        "import sys\nfrom pathlib import Path\n"
        "from sharedclient.core.profiles import ProfileStore\n"
        "from sharedclient.core.errors import ProfileLockedError\n"
        f"p = ProfileStore(Path({str(tmp_path)!r})).get('p')\n"
        "try:\n    p.lock().acquire()\nexcept ProfileLockedError as e:\n    print(e.user_message); sys.exit(3)\n"
    )
    with profile.lock():
        other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
        assert other.returncode == 3
        assert "in use by another running SharedClient" in other.stdout
        with pytest.raises(ProfileLockedError):
            profile.lock().acquire()  # a second lock in the same process is refused too
    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert again.returncode == 0, again.stdout + again.stderr
