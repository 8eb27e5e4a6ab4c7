"""The profile file and the mask file: round trips, RTL captures, corrupt and partial files."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from colsim.errors import ColsimError
from colsim.masks import MaskSet
from colsim.profiler.profile import Profile


@pytest.fixture
def saved(tmp_path, captured):
    path = tmp_path / "run.h5"
    captured[0].save(path)
    return path


def test_round_trip_keeps_everything(saved, captured):
    profile = captured[0]
    loaded = Profile.load(saved)
    assert loaded.layers == profile.layers and loaded.meta == profile.meta
    np.testing.assert_array_equal(loaded.bin_edges, profile.bin_edges)
    for name in profile.layer_names:
        np.testing.assert_array_equal(loaded.colmax[name], profile.colmax[name])
        np.testing.assert_array_equal(loaded.histogram[name], profile.histogram[name])
    with h5py.File(saved) as f:
        assert f.attrs["format"] == "colsim-profile" and f.attrs["version"] == 1
        assert f["layers/0/colmax"].chunks is not None


def test_captured_input_and_weights_reproduce_h(saved, captured):
    _, raw, model = captured
    loaded = Profile.load(saved)
    x = loaded.captured_input("mlp.act", 2)
    weights = loaded.weights["mlp.act"]
    assert x.shape == (6, 8) and weights["w1"].shape == (8, 24) and weights["w2"].shape == (24, 8)
    h = F.gelu(torch.from_numpy(x @ weights["w1"] + weights["b1"])).numpy()
    np.testing.assert_allclose(h, raw["mlp.act"][2], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(weights["w2"], model.mlp.fc2.weight.detach().numpy().T)
    with pytest.raises(ColsimError, match=r"no captured input for mlp\.act:3"):
        loaded.captured_input("mlp.act", 3)


def test_missing_truncated_and_garbage_files(tmp_path, saved):
    with pytest.raises(ColsimError, match="does not exist"):
        Profile.load(tmp_path / "absent.h5")
    data = saved.read_bytes()
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ColsimError, match="is corrupt or truncated"):
        Profile.load(truncated)
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not an hdf5 file at all" * 10)
    with pytest.raises(ColsimError, match="is corrupt or truncated"):
        Profile.load(garbage)


def test_wrong_format_and_version(tmp_path, saved):
    with h5py.File(saved, "r+") as f:
        f.attrs["version"] = 99
    with pytest.raises(ColsimError, match="has format version 99, this colsim reads version 1"):
        Profile.load(saved)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    with pytest.raises(ColsimError, match="is not a colsim profile file"):
        Profile.load(foreign)


def test_damaged_dataset_is_an_error(saved):
    with h5py.File(saved, "r+") as f:
        del f["layers/1/histogram"]
    with pytest.raises(ColsimError, match="is corrupt or truncated"):
        Profile.load(saved)


def test_interrupted_save_leaves_no_file(tmp_path, captured, monkeypatch):
    def fail(self, f):
        f.create_dataset("partial", data=np.zeros(10))
        raise KeyboardInterrupt

    monkeypatch.setattr(Profile, "_write", fail)
    with pytest.raises(KeyboardInterrupt):
        captured[0].save(tmp_path / "out.h5")
    assert list(tmp_path.iterdir()) == []


def test_mask_set_round_trip_and_errors(tmp_path):
    rng = np.random.default_rng(0)
    masks = MaskSet("m", ("a", "b.c"), {"a": rng.random((3, 5)) > 0.5,
                                        "b.c": rng.random((3, 7)) > 0.5}, {"tau": 0.164})
    path = tmp_path / "masks.npz"
    masks.save(path)
    loaded = MaskSet.load(path)
    assert loaded.layers == masks.layers and loaded.meta == masks.meta and loaded.iterations == 3
    for name in masks.layers:
        np.testing.assert_array_equal(loaded.hot[name], masks.hot[name])
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ColsimError, match="is corrupt or truncated"):
        MaskSet.load(path)
    with pytest.raises(ColsimError, match="must be a 2-D bool array"):
        MaskSet("m", ("a",), {"a": np.zeros((2, 3))})
    with pytest.raises(ColsimError, match="disagree on the iteration count"):
        MaskSet("m", ("a", "b"), {"a": np.zeros((2, 3), bool), "b": np.zeros((3, 3), bool)})
