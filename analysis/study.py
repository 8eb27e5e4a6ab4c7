"""The study file: per workload the mask statistics that synthetic full-size masks follow.

A study file (TOML, ``study.toml`` in this package is the default; users copy and edit it)
holds, for each workload, the column-sparsity trajectory over the denoising iterations at the
file's reference threshold, the target Jaccard index of consecutive hot sets, the regime
(which columns are hot), the mask policy the fast model runs, optional column sparsities
measured at other thresholds, and the source of every figure. They are inputs of the seeded
synthetic generator, never targets of a result.

Trajectories over ``T`` iterations ``t = 0 .. T-1``:

* ``constant``: ``s_t = first``;
* ``linear``: from ``first`` at t = 0 to ``last`` at t = T-1;
* ``exponential``: ``s_t = last + (first - last)·(r^t - r^(T-1)) / (1 - r^(T-1))``, which is
  ``first`` at 0 and ``last`` at T-1; the rate ``r`` in (0, 1) is found by bisection so that
  the mean over the T iterations is ``mean`` (it must lie strictly between the mean of the
  one-step drop, ``last + (first - last)/T``, and the linear mean ``(first + last)/2``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from colsim.config.loader import from_mapping, in_range, load_toml, one_of
from colsim.errors import ConfigError
from colsim.masks import REGIMES, MaskSet, check_rho, synthesize_masks
from colsim.models.registry import get_entry
from colsim.models.spec import WorkloadSpec
from colsim.sim.fast.workload import MASK_POLICIES

FORMAT_NAME = "colsim-study"
FORMAT_VERSION = 1
DEFAULT_STUDY = "study.toml"
TRAJECTORIES = ("constant", "linear", "exponential")
_BISECTION_STEPS = 200  # halvings of (0, 1): the rate is exact to double precision
UNSET = -1.0  # an absent optional figure (the config loader's field types have no None)


@dataclass(frozen=True)
class SparsityTrajectory:
    """Column sparsity over the iterations: ``shape`` from ``first`` (to ``last``, ``mean``)."""

    shape: str = field(default="constant", metadata=one_of(*TRAJECTORIES))
    first: float = field(default=0.0, metadata=in_range(0.0, 1.0))
    last: float = UNSET  # linear / exponential only
    mean: float = UNSET  # exponential only

    def __post_init__(self) -> None:
        uses_last = self.shape != "constant"
        if uses_last != (self.last != UNSET):
            raise ConfigError(f"`last` is {'required' if uses_last else 'unused'} with "
                              f"`shape` {self.shape!r}")
        if (self.shape == "exponential") != (self.mean != UNSET):
            raise ConfigError(f"`mean` is {'required' if self.shape == 'exponential' else 'unused'}"
                              f" with `shape` {self.shape!r}")
        for key in ("last", "mean"):
            value = getattr(self, key)
            if value != UNSET and not 0.0 <= value <= 1.0:
                raise ConfigError(f"`{key}` must be in [0.0, 1.0], not {value!r}")

    def values(self, iterations: int) -> np.ndarray:
        """Return the (iterations,) column sparsity of iterations 0 .. iterations-1."""
        if not isinstance(iterations, int) or iterations < 1:
            raise ConfigError(f"`iterations` must be a positive integer, not {iterations!r}")
        t = np.arange(iterations, dtype=np.float64)
        if self.shape == "constant" or iterations == 1:
            return np.full(iterations, self.first)
        if self.shape == "linear":
            return self.first + (self.last - self.first) * t / (iterations - 1)
        return _exponential(self.first, self.last, self.mean, iterations)


def _exponential(first: float, last: float, mean: float, iterations: int) -> np.ndarray:
    t = np.arange(iterations, dtype=np.float64)
    end = iterations - 1

    def curve(rate: float) -> np.ndarray:
        return last + (first - last) * (rate**t - rate**end) / (1.0 - rate**end)

    low_mean, high_mean = sorted((last + (first - last) / iterations, (first + last) / 2))
    if not low_mean < mean < high_mean:
        raise ConfigError(
            f"exponential column sparsity from {first} to {last} over {iterations} iterations "
            f"needs `mean` strictly between {low_mean:.4f} and {high_mean:.4f}, not {mean!r}")
    low, high = 0.0, 1.0
    decreasing = first > last  # the mean moves away from `last` as the rate grows
    for _ in range(_BISECTION_STEPS):
        rate = (low + high) / 2
        above = curve(rate).mean() > mean
        if above == decreasing:
            high = rate
        else:
            low = rate
    return curve((low + high) / 2)


@dataclass(frozen=True)
class WorkloadStatistics:
    """The mask statistics of one workload (see the module docstring)."""

    regime: str = field(default="concentration", metadata=one_of(*REGIMES))
    jaccard: float = field(default=1.0, metadata=in_range(0.0, 1.0))
    mask_policy: str = field(default="fixed", metadata=one_of(*MASK_POLICIES))
    source: str = ""
    column_sparsity: SparsityTrajectory = field(default_factory=SparsityTrajectory)

    def __post_init__(self) -> None:
        if not self.source.strip():
            raise ConfigError("`source` must say where the figures come from")


@dataclass(frozen=True)
class Study:
    """A study file: ``workloads[name]`` statistics at ``reference_tau``, plus ``at_tau``."""

    path: str
    reference_tau: float
    workloads: dict[str, WorkloadStatistics]
    at_tau: dict[str, dict[float, float]]  # workload -> {τ: constant column sparsity}

    def statistics(self, workload: str) -> WorkloadStatistics:
        """Return the statistics of ``workload``; one the file lacks is a ConfigError."""
        if workload not in self.workloads:
            known = ", ".join(self.workloads)
            raise ConfigError(f"study file {self.path!r} has no workload {workload!r} "
                              f"(it has: {known})")
        return self.workloads[workload]

    def masks(self, spec: WorkloadSpec, *, iterations: int, seed: int,
              tau: float | None = None, rho: float | None = None
              ) -> tuple[MaskSet, dict[str, Any]]:
        """Return seeded synthetic masks of ``spec`` that follow this study, and their record.

        On the ρ axis every iteration keeps a share ``rho`` of the columns hot; on the τ axis
        (``tau``, None: the reference) the column sparsity is the file's figure at that τ,
        and a τ without a figure is a ConfigError. Jaccard and regime are the workload's.
        """
        stats = self.statistics(spec.name)
        if rho is not None:
            sparsity = np.full(iterations, 1.0 - check_rho(rho))
        else:
            sparsity = self.column_sparsity(spec.name, iterations, tau)
            if sparsity is None:
                raise ConfigError(f"study file {self.path!r} has no column sparsity of "
                                  f"{spec.name!r} at tau = {tau:g} (give a profile)")
        mask_set = synthesize_masks(spec, iterations=iterations, seed=seed,
                                    column_sparsity=sparsity, jaccard=stats.jaccard,
                                    regime=stats.regime)
        axis = {"rho": rho} if rho is not None else {"tau": self.reference_tau
                                                     if tau is None else tau}
        return mask_set, {"masks": "study", "study": self.path, **axis, "seed": seed,
                          "regime": stats.regime, "jaccard": stats.jaccard}

    def has_figure(self, workload: str, tau: float) -> bool:
        """Whether the file gives ``workload``'s column sparsity at threshold ``tau``."""
        return tau == self.reference_tau or tau in self.at_tau.get(workload, {})

    def column_sparsity(self, workload: str, iterations: int,
                        tau: float | None = None) -> np.ndarray | None:
        """Return the (iterations,) column sparsity of ``workload`` at threshold ``tau``.

        ``None`` (or the reference τ) gives the trajectory; a τ listed under
        ``column_sparsity_at_tau`` gives that constant; any other τ returns None (the file
        has no figure for it: such a run needs a profile).
        """
        stats = self.statistics(workload)
        if tau is None or tau == self.reference_tau:
            return stats.column_sparsity.values(iterations)
        value = self.at_tau.get(workload, {}).get(tau)
        return None if value is None else np.full(iterations, value)


def default_study_path() -> Path:
    """Return the path of the packaged default study file."""
    return Path(str(resources.files("colsim.analysis").joinpath(DEFAULT_STUDY)))


def load_study(path: str | Path | None = None) -> Study:
    """Load a study file (the packaged default when ``path`` is None); errors are one line."""
    path = Path(path) if path is not None else default_study_path()
    if path.is_dir():
        raise ConfigError(f"study file {str(path)!r} is a directory")
    values = load_toml(path)
    if values.get("format") != FORMAT_NAME or values.get("version") != FORMAT_VERSION:
        raise ConfigError(f"{str(path)!r} is not a colsim study file (format "
                          f"{FORMAT_NAME!r}, version {FORMAT_VERSION})")
    unknown = sorted(set(values) - {"format", "version", "reference_tau", "workloads"})
    if unknown:
        raise ConfigError(f"unknown key `{unknown[0]}` in study file {str(path)!r}")
    reference_tau = values.get("reference_tau")
    if isinstance(reference_tau, bool) or not isinstance(reference_tau, (int, float)) \
            or not 0 <= reference_tau < float("inf"):
        raise ConfigError(f"`reference_tau` must be a non-negative number, not {reference_tau!r}")
    tables = values.get("workloads")
    if not isinstance(tables, dict) or not tables:
        raise ConfigError(f"study file {str(path)!r} has no [workloads.<name>] table")
    workloads, at_tau = {}, {}
    for name, table in tables.items():
        get_entry(name)  # an unknown workload name is an error listing the known ones
        if not isinstance(table, dict):
            raise ConfigError(f"`workloads.{name}` must be a table, not {table!r}")
        table = dict(table)
        at_tau[name] = _thresholds(name, table.pop("column_sparsity_at_tau", {}))
        workloads[name] = from_mapping(WorkloadStatistics, table, prefix=f"workloads.{name}")
    return Study(str(path), float(reference_tau), workloads, at_tau)


def _thresholds(name: str, table: Any) -> dict[float, float]:
    prefix = f"workloads.{name}.column_sparsity_at_tau"
    if not isinstance(table, dict):
        raise ConfigError(f"`{prefix}` must be a table, not {table!r}")
    out = {}
    for key, value in table.items():
        try:
            tau = float(key)
        except ValueError:
            raise ConfigError(f"`{prefix}` keys must be thresholds, not {key!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not 0 <= value <= 1:
            raise ConfigError(f"`{prefix}.\"{key}\"` must be in [0, 1], not {value!r}")
        out[tau] = float(value)
    return out
