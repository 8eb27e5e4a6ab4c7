"""colsim.fileio: atomic writes with one permission policy, and output-path checks."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from colsim.errors import ColsimError
from colsim.fileio import (
    atomic_output,
    check_output_dir,
    check_output_file,
    write_bytes,
    write_text,
)

UNWRITABLE = Path("/sys/colsim-output")  # even root cannot create files in sysfs


@pytest.fixture(params=[0o022, 0o077, 0o002])
def umask(request):
    before = os.umask(request.param)
    yield request.param
    os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def plain_open_mode(folder: Path) -> int:
    reference = folder / "plain"
    with open(reference, "w") as stream:
        stream.write("x")
    return mode(reference)


def test_writers_give_the_permissions_of_a_plain_open(tmp_path, umask) -> None:
    expected = plain_open_mode(tmp_path)
    assert expected == 0o666 & ~umask
    write_text(tmp_path / "a.txt", "text")
    write_bytes(tmp_path / "b.bin", b"\x00\x01")
    with atomic_output(tmp_path / "c.npz", suffix=".npz") as temporary:
        np.savez(temporary, x=np.arange(3))
    assert [mode(tmp_path / n) for n in ("a.txt", "b.bin", "c.npz")] == [expected] * 3
    assert (tmp_path / "a.txt").read_text() == "text"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert np.load(tmp_path / "c.npz")["x"].tolist() == [0, 1, 2]


def test_parent_folders_are_created_and_an_old_file_replaced(tmp_path) -> None:
    path = tmp_path / "a" / "b" / "out.json"
    write_text(path, "old")
    write_text(path, "new\n")
    assert path.read_text() == "new\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.json"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_the_temporary_file_is_removed_when_the_writer_fails(tmp_path, error) -> None:
    path = tmp_path / "out.h5"
    path.write_text("previous")
    with pytest.raises(error), atomic_output(path, suffix=".h5") as temporary:
        temporary.write_text("half")
        raise error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.h5"]
    assert path.read_text() == "previous"


def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, monkeypatch) -> None:
    def full(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(ColsimError, match=r"^cannot write output file '.*a\.txt': No space left"):
        write_text(tmp_path / "a.txt", "text")
    assert list(tmp_path.iterdir()) == []


def test_a_folder_at_the_destination_is_refused_without_leftovers(tmp_path) -> None:
    (tmp_path / "out.json").mkdir()
    with pytest.raises(ColsimError, match=r"^output file '.*out\.json' is a folder$"):
        write_text(tmp_path / "out.json", "{}")
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
    assert list((tmp_path / "out.json").iterdir()) == []


def test_a_path_under_a_file_is_refused_by_the_writer(tmp_path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ColsimError, match=r"is under '.*file', which is not a folder$"):
        write_text(tmp_path / "file" / "sub" / "out.json", "{}")


def bad_file_paths(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("x")
    return {
        "folder": (tmp_path / "folder", "is a folder"),
        "under a file": (tmp_path / "file" / "sub" / "out", "which is not a folder"),
        "device": (Path("/dev/null"), "is not a regular file"),
        "unwritable": (UNWRITABLE / "out", "cannot write output file"),
    }


@pytest.mark.parametrize("case", ["folder", "under a file", "device", "unwritable"])
def test_check_output_file_refuses_with_one_line_naming_the_path(tmp_path, case) -> None:
    path, reason = bad_file_paths(tmp_path)[case]
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(ColsimError) as info:
        check_output_file(path)
    message = str(info.value)
    assert "\n" not in message and repr(str(path)) in message and reason in message
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize("case", ["file", "under a file", "unwritable"])
def test_check_output_dir_refuses_with_one_line_naming_the_path(tmp_path, case) -> None:
    (tmp_path / "file").write_text("x")
    path, reason = {
        "file": (tmp_path / "file", "is a file"),
        "under a file": (tmp_path / "file" / "sub", "which is not a folder"),
        "unwritable": (UNWRITABLE, "cannot write output folder"),
    }[case]
    with pytest.raises(ColsimError) as info:
        check_output_dir(path)
    message = str(info.value)
    assert "\n" not in message and repr(str(path)) in message and reason in message
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes regardless of mode bits")
def test_a_folder_without_write_permission_is_refused(tmp_path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(ColsimError, match="Permission denied"):
        check_output_file(locked / "sub" / "out.json")
    with pytest.raises(ColsimError, match="Permission denied"):
        check_output_dir(locked)


def test_checks_accept_writable_places_and_leave_no_trace(tmp_path) -> None:
    (tmp_path / "existing").write_text("x")
    (tmp_path / "folder").mkdir()
    assert check_output_file(tmp_path / "existing") == tmp_path / "existing"
    assert check_output_file(tmp_path / "new" / "deeper" / "out.json").name == "out.json"
    assert check_output_dir(tmp_path / "folder") == tmp_path / "folder"
    assert check_output_dir(str(tmp_path / "new-folder")) == tmp_path / "new-folder"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["existing", "folder"]


def test_relative_paths_are_checked_against_the_working_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("file").write_text("x")
    assert check_output_file("out.json") == Path("out.json")
    with pytest.raises(ColsimError, match=r"^output file 'file/out\.json' is under '"):
        check_output_file("file/out.json")
