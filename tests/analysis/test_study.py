"""The study file: the packaged statistics, trajectories, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from colsim.analysis.study import SparsityTrajectory, load_study
from colsim.errors import ColsimError, ConfigError

STUDY_WORKLOADS = ["dit-xl-2", "sd-v1.4", "videocrafter2", "make-an-audio", "mdm", "mld", "edge"]


def test_default_study_covers_the_seven_workloads_with_sources() -> None:
    study = load_study()
    assert list(study.workloads) == STUDY_WORKLOADS
    assert study.reference_tau == 0.164
    assert all(stats.source.startswith("DESIGN.md §1") for stats in study.workloads.values())


def test_default_study_figures_are_design_inputs() -> None:
    study = load_study()
    dit = study.column_sparsity("dit-xl-2", 50)
    assert dit[0] == pytest.approx(0.43) and dit[-1] == pytest.approx(0.10)
    assert dit.mean() == pytest.approx(0.17, abs=1e-12)
    assert np.all(np.diff(dit) < 0)
    assert study.statistics("dit-xl-2").jaccard == 1.0
    assert study.column_sparsity("make-an-audio", 3).tolist() == [0.517] * 3
    assert study.statistics("mld").regime == "churn"
    assert study.column_sparsity("mdm", 2, tau=0.2).tolist() == [0.343, 0.343]
    assert study.column_sparsity("edge", 2, tau=0.2) is None  # no figure: needs a profile


def test_linear_and_one_iteration_trajectories() -> None:
    line = SparsityTrajectory(shape="linear", first=0.5, last=0.1)
    assert line.values(5).tolist() == pytest.approx([0.5, 0.4, 0.3, 0.2, 0.1])
    assert line.values(1).tolist() == [0.5]


def test_rising_exponential_hits_its_mean() -> None:
    values = SparsityTrajectory(shape="exponential", first=0.1, last=0.6, mean=0.5).values(20)
    assert (values[0], values[-1]) == pytest.approx((0.1, 0.6))
    assert values.mean() == pytest.approx(0.5, abs=1e-12)


def test_exponential_mean_outside_the_feasible_range_is_one_line() -> None:
    curve = SparsityTrajectory(shape="exponential", first=0.43, last=0.10, mean=0.30)
    with pytest.raises(ConfigError, match=r"needs `mean` strictly between 0\.1066 and 0\.2650"):
        curve.values(50)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('regime = "chaos"', r"`workloads.mdm.regime` must be one of .*, not 'chaos'"),
        ("jaccard = 1.5", r"`workloads.mdm.jaccard` must be in \[0.0, 1.0\], not 1.5"),
        ('mask_policy = "sometimes"', r"`workloads.mdm.mask_policy` must be one of"),
        ("[workloads.mdm.column_sparsity]\nshape = 'linear'\nfirst = 0.1",
         r"`last` is required with `shape` 'linear'"),
        ("[workloads.mdm.column_sparsity]\nfirst = 0.1\nmean = 0.2",
         r"`mean` is unused with `shape` 'constant'"),
        ("[workloads.mdm.column_sparsity_at_tau]\nhigh = 0.3",
         r"keys must be thresholds, not 'high'"),
        ("[workloads.mdm.column_sparsity_at_tau]\n\"0.2\" = 3",
         r"`workloads.mdm.column_sparsity_at_tau.\"0.2\"` must be in \[0, 1\], not 3"),
    ],
)
def test_bad_workload_tables_are_one_line(tmp_path: Path, table: str, message: str) -> None:
    path = tmp_path / "study.toml"
    path.write_text('format = "colsim-study"\nversion = 1\nreference_tau = 0.164\n'
                    f'[workloads.mdm]\nsource = "test"\n{table}\n')
    with pytest.raises(ConfigError, match=message):
        load_study(path)


def test_file_errors_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_study(tmp_path)
    other = tmp_path / "other.toml"
    other.write_text("[clock]\ncore_mhz = 800.0\n")
    with pytest.raises(ConfigError, match="is not a colsim study file"):
        load_study(other)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('format = "colsim-study"\nversion = 1\nreference_tau = 0.164\n'
                       '[workloads.sd-v9]\nsource = "x"\n')
    with pytest.raises(ColsimError, match=r"unknown model 'sd-v9'"):
        load_study(unknown)
    with pytest.raises(ConfigError, match="has no workload 'tiny-dit'"):
        load_study().statistics("tiny-dit")
