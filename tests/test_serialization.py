"""Files the library writes: atomic, keeping the replaced file's mode, through symlinks,
with a clear error for a missing folder; and never unpickled on the way back."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

import nn
from autograd_core.serialization import atomic_write, load_arrays, save_arrays


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_file_gets_the_umask_default_like_open(tmp_path):
    save_arrays(tmp_path / "a.npz", {"x": np.arange(3)})
    with open(tmp_path / "b.txt", "w"):
        pass
    assert mode_of(tmp_path / "a.npz") == mode_of(tmp_path / "b.txt")
    old = os.umask(0o027)
    try:
        save_arrays(tmp_path / "c.npz", {"x": np.arange(3)})
    finally:
        os.umask(old)
    assert mode_of(tmp_path / "c.npz") == 0o640


@pytest.mark.parametrize("mode", [0o644, 0o600, 0o664])
def test_overwriting_keeps_the_existing_mode(tmp_path, mode):
    path = tmp_path / "model.npz"
    save_arrays(path, {"x": np.zeros(2)})
    os.chmod(path, mode)
    save_arrays(path, {"x": np.ones(2)})
    assert mode_of(path) == mode
    np.testing.assert_array_equal(load_arrays(path)["x"], np.ones(2))


def test_saving_through_a_symlink_writes_its_target(tmp_path):
    target = tmp_path / "real" / "model.npz"
    target.parent.mkdir()
    save_arrays(target, {"x": np.zeros(2)})
    link = tmp_path / "latest.npz"
    link.symlink_to(target)
    model = nn.Dense(2, 3, rng=0)
    nn.save(model, link)
    assert link.is_symlink()  # still a link ...
    np.testing.assert_array_equal(load_arrays(target)["weight"], model.weight.data)  # ... to the new data
    assert sorted(os.listdir(target.parent)) == ["model.npz"]


def test_a_missing_folder_is_named(tmp_path):
    missing = tmp_path / "runs" / "day1"
    with pytest.raises(FileNotFoundError, match=f"the folder '{missing}' does not exist"):
        nn.save(nn.Dense(2, 3), missing / "model.npz")


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "model.npz"
    save_arrays(path, {"x": np.arange(4)})

    def crash(f):
        f.write(b"half a file")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, crash)
    assert os.listdir(tmp_path) == ["model.npz"]
    np.testing.assert_array_equal(load_arrays(path)["x"], np.arange(4))
