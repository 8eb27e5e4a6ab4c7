"""The pipeline API and the one home of masks: conventions every caller shares."""

from __future__ import annotations

import numpy as np
import pytest

from colsim import api
from colsim.analysis.sweep import SweepCell, SweepGrid
from colsim.config.hardware import TINY_TOML, packaged_config
from colsim.errors import ColsimError
from colsim.masks import calibrate_rho, is_hot, layer_thresholds, resolve_masks
from colsim.models.registry import workload_spec
from colsim.profiler.profile import LayerInfo, Profile


@pytest.fixture
def profile() -> Profile:
    """A one-layer profile (M=8, d=16, N=64) with seeded column maxima."""
    info = LayerInfo("blocks.0.ff", 8, 16, 64, False)
    edges = np.linspace(0, 4, 9, dtype=np.float32)
    return Profile(
        layers=(info,), bin_edges=edges,
        colmax={info.name: np.random.default_rng(0).random((3, 64)).astype(np.float32)},
        histogram={info.name: np.ones((3, edges.size + 1), dtype=np.int64)},
        meta={"model": "synthetic"},
    )


def test_neither_tau_nor_rho_means_the_reference_tau(profile):
    default, reference = api.masks_from_profile(profile), api.masks_from_profile(profile, tau=0.164)
    np.testing.assert_array_equal(default.hot["blocks.0.ff"], reference.hot["blocks.0.ff"])
    assert default.meta["tau"] == 0.164 and default.meta["source"] == "profile"
    assert api.sparsity(profile).axis == "tau" and api.sparsity(profile).value == 0.164
    with pytest.raises(ColsimError, match="give either `tau` or `rho`, not both"):
        layer_thresholds(profile, tau=0.1, rho=0.1)


def test_rho_masks_use_the_calibrated_threshold_and_flag_inflation(profile):
    masks = api.masks_from_profile(profile, rho=0.25)
    threshold = calibrate_rho(profile, 0.25)["blocks.0.ff"].threshold
    assert masks.meta["thresholds"] == {"blocks.0.ff": threshold}
    np.testing.assert_array_equal(masks.hot["blocks.0.ff"],
                                  is_hot(profile.colmax["blocks.0.ff"], threshold))
    assert masks.meta["rho"] == 0.25 and masks.meta["inflated_layers"] == []


def test_cosim_case_derives_its_mask_at_rho(profile, tmp_path):
    path = tmp_path / "profile.h5"
    profile.save(path)
    case = api.cosim_case(profile=path, layer="blocks.0.ff", iterations=(0, 1), rho=0.25,
                          config=packaged_config(TINY_TOML), operands="random")
    threshold = calibrate_rho(profile, 0.25)["blocks.0.ff"].threshold
    assert case.tau == threshold and case.iterations == 2 and case.profile is None
    np.testing.assert_array_equal(case.hot, is_hot(profile.colmax["blocks.0.ff"][0], threshold))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tau": 0.1}, "`tau` / `rho` need hot masks"),
        ({"synthetic": "sparsity=0.5", "tau": 0.1}, "`tau` needs a profile"),
        ({"synthetic": "jaccard=0.5"}, "synthetic masks need `sparsity=` in SPEC or `rho`"),
        ({"path": "m.npz", "rho": 0.1}, "a mask file already fixes its thresholds"),
    ],
)
def test_mask_source_errors_name_parameters_not_flags(kwargs, message):
    spec = workload_spec("tiny-dit", "tiny")
    with pytest.raises(ColsimError, match=message) as error:
        resolve_masks(spec, iterations=2, **kwargs)
    assert "--" not in str(error.value)


def test_sweep_grid_lists_baselines_first_and_names_runs(tmp_path):
    grid = SweepGrid(models=("tiny-dit",), out=tmp_path, layouts=("rowmajor", "hotcold"),
                     rhos=(0.3,))
    assert [cell.run_id for cell in grid.cells()] == [
        "tiny-dit_baseline", "tiny-dit_rowmajor_rho0.3", "tiny-dit_hotcold_rho0.3"]
    assert SweepCell("mdm", "hotcold", tau=0.164).run_id == "mdm_hotcold_tau0.164"
    with pytest.raises(ColsimError, match="unknown model 'nope'"):
        SweepGrid(models=("nope",), out=tmp_path)
    with pytest.raises(ColsimError, match="bad synthetic mask item"):
        SweepGrid(models=("mdm",), out=tmp_path, synthetic="colour=red")
