"""Hot-column masks (DESIGN.md contract 3): their rule, thresholds, sources and file format.

A :class:`MaskSet` holds per FFN layer × iteration a boolean hot vector of length N. It comes
from one of three sources, chosen by :func:`resolve_masks`:

* a **profile** at a threshold axis: a column is hot when its max ``|h|`` exceeds the layer's
  threshold, compared in float32, the capture dtype (:func:`is_hot`, the one hot rule).
  The thresholds are a uniform ``tau`` or, for a per-layer target hot ratio ``rho``, the
  smallest column-max value per layer whose iteration-1+ hot share is ``<= rho`` (binary
  search over the layer's sorted column maxima, :func:`calibrate_rho`). A threshold above the
  layer's **natural range** (the upper edge of the histogram bin holding the 99th percentile
  of ``|h|`` over all iterations) is **threshold inflation** and is flagged.
  **Neither given means τ = 0.164**, the reference point of DESIGN.md §1, everywhere (the
  sparsity report, simulation, accuracy and RTL runs);
* a **mask file** (``.npz``, no pickle, :meth:`MaskSet.save` / :meth:`MaskSet.load`);
* the **seeded synthetic generator** (:func:`synthesize_masks`), configured in commands by a
  SPEC such as ``sparsity=0.6,jaccard=0.9,regime=concentration`` (:func:`parse_synthetic`),
  or by a study file's per-workload statistics (:meth:`colsim.analysis.study.Study.masks`).

The generator draws for every layer hot sets ``H_0 .. H_{T-1}`` with
``|H_t| = round((1 - s_t)·N)`` (``s_t`` the target column sparsity of iteration t) and
consecutive overlap ``|H_t ∩ H_t+1| = i`` chosen as the integer nearest to
``J·(|H_t| + |H_t+1|) / (1 + J)`` within the feasible range, so each consecutive Jaccard
index is the achievable value nearest the target ``J`` (within ``1 / |H_t ∪ H_t+1|`` when
the range does not clip it). The regime decides *which* columns are hot:

* ``concentration``: hot columns cluster around a random centre; new hot columns are the
  nearest free ones, so hot sets stay within a narrow contiguous band;
* ``dispersion``: hot columns are spread uniformly at random over all N columns;
* ``churn``: hot columns rotate: the longest-hot columns drop out first and the columns hot
  least recently (never-hot first) come in, so the union over iterations grows fastest.
"""

from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from colsim.errors import ColsimError
from colsim.fileio import atomic_output
from colsim.limits import check_memory
from colsim.models.spec import WorkloadSpec
from colsim.profiler.histogram import REFERENCE_THRESHOLD, quantile_upper_bound
from colsim.profiler.profile import Profile

FORMAT_NAME = "colsim-masks"
FORMAT_VERSION = 1
DEFAULT_TAU = REFERENCE_THRESHOLD  # the threshold when neither `tau` nor `rho` is given
NATURAL_RANGE_QUANTILE = 0.99
REGIMES = ("concentration", "dispersion", "churn")
SYNTHETIC_KEYS = ("sparsity", "jaccard", "regime")
FLOAT32_MAX = float(np.finfo(np.float32).max)
# Bytes per iteration beside the masks' one byte per column: the float64 sparsity target and
# its copy in the metadata (a list of Python floats).
MASK_META_BYTES = 8 + 8 + 24


@dataclass(frozen=True)
class MaskSet:
    """Hot columns of every FFN layer: ``hot[layer]`` is bool (iterations, N).

    ``layers`` gives the forward order; every layer has the same number of iterations.
    ``meta`` records how the masks were made (threshold or generator targets, seed).
    """

    model: str
    layers: tuple[str, ...]
    hot: dict[str, np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if set(self.layers) != set(self.hot) or len(set(self.layers)) != len(self.layers):
            raise ColsimError(
                f"mask set layers {list(self.layers)} do not match its masks {sorted(self.hot)}"
            )
        iterations = set()
        for name in self.layers:
            mask = self.hot[name]
            if mask.dtype != np.bool_ or mask.ndim != 2:
                raise ColsimError(
                    f"mask of layer {name!r} must be a 2-D bool array, not "
                    f"{mask.dtype} with shape {mask.shape}"
                )
            iterations.add(mask.shape[0])
        if len(iterations) > 1:
            raise ColsimError(f"mask set layers disagree on the iteration count: {iterations}")

    @property
    def iterations(self) -> int:
        """Number of denoising iterations T."""
        return self.hot[self.layers[0]].shape[0] if self.layers else 0

    def save(self, path: str | Path) -> None:
        """Write an ``.npz`` file (no pickle) atomically."""
        header = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "model": self.model,
                  "layers": list(self.layers), "meta": self.meta}
        arrays = {f"hot_{i}": self.hot[name] for i, name in enumerate(self.layers)}
        with atomic_output(path, suffix=".npz") as temporary:
            np.savez_compressed(temporary, header=np.array(json.dumps(header)), **arrays)

    @classmethod
    def load(cls, path: str | Path) -> MaskSet:
        """Read a mask file written by :meth:`save`; anything else is a ColsimError."""
        path = Path(path)
        if not path.is_file():
            raise ColsimError(f"mask file {str(path)!r} does not exist")
        try:
            with path.open("rb") as handle, np.load(handle, allow_pickle=False) as data:
                header = json.loads(str(data["header"]))
                if header.get("format") != FORMAT_NAME:
                    raise ColsimError(f"{str(path)!r} is not a colsim mask file")
                if header.get("version") != FORMAT_VERSION:
                    raise ColsimError(
                        f"mask file {str(path)!r} has format version {header.get('version')}, "
                        f"this colsim reads version {FORMAT_VERSION}"
                    )
                layers = tuple(header["layers"])
                hot = {name: data[f"hot_{i}"] for i, name in enumerate(layers)}
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise ColsimError(f"mask file {str(path)!r} is corrupt or truncated ({exc})") from None
        return cls(header["model"], layers, hot, header["meta"])


# -- the hot rule and the thresholds of a profile ------------------------------------------


def is_hot(colmax: np.ndarray, threshold: float) -> np.ndarray:
    """Return where column maxima are hot: ``colmax > threshold``, compared in float32."""
    return colmax > np.float32(threshold)


def hot_masks(profile: Profile, thresholds: Mapping[str, float]) -> dict[str, np.ndarray]:
    """Return per layer the bool (T, N) hot mask of ``profile`` at its threshold."""
    return {name: is_hot(profile.colmax[name], thresholds[name]) for name in profile.layer_names}


def check_tau(tau: float) -> float:
    """Return ``tau`` if it is a non-negative number within float32 range (the precision
    of a profile's column maxima), else raise a ColsimError."""
    if not isinstance(tau, (int, float)) or not math.isfinite(tau) or tau < 0:
        raise ColsimError(f"`tau` must be a non-negative number, not {tau!r}")
    if tau > FLOAT32_MAX:
        raise ColsimError(f"`tau` must be at most {FLOAT32_MAX:.4g} (profiles hold float32 "
                          f"maxima), not {tau!r}")
    return float(tau)


def check_rho(rho: float) -> float:
    """Return ``rho`` if it lies in [0, 1], else raise a ColsimError."""
    if not isinstance(rho, (int, float)) or not 0 <= rho <= 1:
        raise ColsimError(f"`rho` must be a hot ratio in [0, 1], not {rho!r}")
    return float(rho)


def uniform_thresholds(profile: Profile, tau: float) -> dict[str, float]:
    """Return the same threshold ``tau`` for every layer."""
    tau = check_tau(tau)
    return {name: tau for name in profile.layer_names}


def first_counted_iteration(profile: Profile) -> int:
    """Return 1, or 0 for a one-iteration profile (the start of iteration-1+ averages)."""
    return 1 if profile.iterations > 1 else 0


def natural_range(profile: Profile, name: str) -> float:
    """Return the layer's natural activation range (99th-percentile bin edge of ``|h|``)."""
    counts = profile.histogram[name].sum(axis=0)
    return quantile_upper_bound(counts, profile.bin_edges, NATURAL_RANGE_QUANTILE)


@dataclass(frozen=True)
class Calibration:
    """The per-layer threshold meeting a target hot ratio, and whether it is inflated."""

    layer: str
    threshold: float
    hot_share: float  # achieved iteration-1+ hot share, <= the target
    natural_range: float
    inflated: bool


def calibrate_rho(profile: Profile, rho: float) -> dict[str, Calibration]:
    """Return per layer the smallest threshold whose iteration-1+ hot share is ``<= rho``."""
    rho = check_rho(rho)
    start = first_counted_iteration(profile)
    result = {}
    for name in profile.layer_names:
        colmax = profile.colmax[name][start:]
        candidates = np.unique(np.concatenate([[np.float32(0.0)], colmax.ravel()]))
        low, high = 0, len(candidates) - 1  # hot share at candidates[-1] is 0 <= rho
        while low < high:
            middle = (low + high) // 2
            if _hot_share(colmax, candidates[middle]) <= rho:
                high = middle
            else:
                low = middle + 1
        threshold = float(candidates[low])
        limit = natural_range(profile, name)
        result[name] = Calibration(
            name, threshold, _hot_share(colmax, candidates[low]), limit, threshold > limit
        )
    return result


def _hot_share(colmax: np.ndarray, threshold: np.float32) -> float:
    return float(is_hot(colmax, threshold).mean())


@dataclass(frozen=True)
class LayerThresholds:
    """The per-layer thresholds of a profile at ``axis`` (``"tau"`` or ``"rho"``) = ``value``."""

    axis: str
    value: float
    threshold: dict[str, float]
    natural_range: dict[str, float]
    inflated: dict[str, bool]

    @property
    def inflated_layers(self) -> list[str]:
        """Return the names of the layers whose threshold is inflated, sorted."""
        return sorted(name for name, flag in self.inflated.items() if flag)


def layer_thresholds(
    profile: Profile, *, tau: float | None = None, rho: float | None = None
) -> LayerThresholds:
    """Return the thresholds of ``profile`` at a uniform ``tau`` or a per-layer hot ratio ``rho``.

    Neither given means τ = :data:`DEFAULT_TAU`; both given is an error.
    """
    if tau is not None and rho is not None:
        raise ColsimError("give either `tau` or `rho`, not both")
    if rho is None:
        value = DEFAULT_TAU if tau is None else check_tau(tau)
        ranges = {name: natural_range(profile, name) for name in profile.layer_names}
        return LayerThresholds(
            "tau", value, uniform_thresholds(profile, value), ranges,
            {name: bool(value > limit) for name, limit in ranges.items()},
        )
    calibration = calibrate_rho(profile, rho)
    return LayerThresholds(
        "rho", check_rho(rho), {n: c.threshold for n, c in calibration.items()},
        {n: c.natural_range for n, c in calibration.items()},
        {n: bool(c.inflated) for n, c in calibration.items()},
    )


def masks_from_profile(
    profile: Profile, *, tau: float | None = None, rho: float | None = None
) -> MaskSet:
    """Return the hot masks of ``profile`` at ``tau`` or ``rho`` (neither: τ = 0.164).

    ``meta`` records the thresholds, the axis and its value, and the inflated layers.
    """
    chosen = layer_thresholds(profile, tau=tau, rho=rho)
    meta = {"source": "profile", "thresholds": dict(chosen.threshold),
            chosen.axis: chosen.value, "inflated_layers": chosen.inflated_layers}
    model = str(profile.meta.get("model", "unknown"))
    return MaskSet(model, profile.layer_names, hot_masks(profile, chosen.threshold), meta)


# -- where a run's masks come from ----------------------------------------------------------


def resolve_masks(
    spec: WorkloadSpec,
    *,
    path: str | Path | None = None,
    synthetic: str | None = None,
    tau: float | None = None,
    rho: float | None = None,
    iterations: int,
    seed: int = 0,
) -> tuple[MaskSet | None, dict[str, Any]]:
    """Return a run's masks (None: the dense baseline) and a record of their source.

    ``path`` is a profile (read at ``tau`` or ``rho``) or a ``.npz`` mask file; ``synthetic``
    a SPEC for :func:`synthesize_masks` (its sparsity defaults to ``1 - rho``).
    """
    if tau is not None:
        check_tau(tau)
    if rho is not None:
        check_rho(rho)
    if path is None and synthetic is None:
        if tau is not None or rho is not None:
            raise ColsimError(
                "`tau` / `rho` need hot masks: give a profile, a mask file or a synthetic SPEC")
        return None, {"masks": "none (all-dense baseline)"}
    if synthetic is not None:
        if tau is not None:
            raise ColsimError("`tau` needs a profile, not synthetic masks")
        return _synthetic(spec, synthetic, rho=rho, iterations=iterations, seed=seed)
    path = Path(path)
    if path.suffix == ".npz":
        if tau is not None or rho is not None:
            raise ColsimError("a mask file already fixes its thresholds; drop `tau` / `rho`")
        return MaskSet.load(path), {"masks": str(path)}
    mask_set = masks_from_profile(Profile.load(path), tau=tau, rho=rho)
    axis = "rho" if rho is not None else "tau"
    return mask_set, {"masks": str(path), axis: mask_set.meta[axis],
                      "inflated_layers": mask_set.meta["inflated_layers"]}


def _synthetic(
    spec: WorkloadSpec, text: str, *, rho: float | None, iterations: int, seed: int
) -> tuple[MaskSet, dict[str, Any]]:
    values = parse_synthetic(text)
    if "sparsity" not in values:
        if rho is None:
            raise ColsimError("synthetic masks need `sparsity=` in SPEC or `rho`")
        values["sparsity"] = 1.0 - rho
    mask_set = synthesize_masks(
        spec, iterations=iterations, seed=seed, column_sparsity=values["sparsity"],
        jaccard=values.get("jaccard", 1.0), regime=values.get("regime", "concentration"),
    )
    return mask_set, {"masks": "synthetic", "synthetic": values, "seed": seed, "rho": rho}


def parse_synthetic(text: str) -> dict[str, Any]:
    """Return the ``key=value`` pairs of a synthetic-mask SPEC (sparsity, jaccard, regime)."""
    values: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or key not in SYNTHETIC_KEYS:
            known = ", ".join(SYNTHETIC_KEYS)
            raise ColsimError(f"bad synthetic mask item {item!r} (use key=value with {known})")
        if key == "regime":
            values[key] = value
            continue
        try:
            values[key] = float(value)
        except ValueError:
            raise ColsimError(f"synthetic `{key}` must be a number, not {value!r}") from None
        if not 0 <= values[key] <= 1:  # NaN too
            raise ColsimError(f"synthetic `{key}` must be in [0, 1], not {value!r}")
    return values


# -- the seeded synthetic generator ---------------------------------------------------------


def synthesize_masks(
    spec: WorkloadSpec,
    *,
    iterations: int,
    seed: int,
    column_sparsity: float | Sequence[float],
    jaccard: float,
    regime: str = "concentration",
) -> MaskSet:
    """Return a seeded :class:`MaskSet` for every layer of the workload ``spec``.

    ``column_sparsity`` is one value or one per iteration, each in [0, 1]; ``jaccard`` is
    the target Jaccard index of consecutive hot sets in [0, 1].
    """
    if not isinstance(iterations, int) or iterations < 1:
        raise ColsimError(f"`iterations` must be a positive integer, not {iterations!r}")
    check_memory(f"`iterations` {iterations:,} of {spec.name!r} ({len(spec.layers)} layers)",
                 iterations * (MASK_META_BYTES + sum(layer.hidden for layer in spec.layers)))
    if regime not in REGIMES:
        raise ColsimError(f"`regime` must be one of {', '.join(REGIMES)}, not {regime!r}")
    if not 0 <= jaccard <= 1:
        raise ColsimError(f"`jaccard` must be in [0, 1], not {jaccard!r}")
    if np.ndim(column_sparsity) == 1 and len(column_sparsity) != iterations:
        raise ColsimError(
            f"`column_sparsity` has {len(column_sparsity)} values for {iterations} iterations"
        )
    schedule = np.broadcast_to(np.asarray(column_sparsity, dtype=np.float64), (iterations,))
    bad = schedule[(schedule < 0) | (schedule > 1) | ~np.isfinite(schedule)]
    if bad.size:
        raise ColsimError(f"`column_sparsity` must be in [0, 1], not {float(bad[0])!r}")
    hot = {}
    for index, layer in enumerate(spec.layers):
        rng = np.random.default_rng([seed, index])
        hot[layer.name] = _layer_masks(int(layer.hidden), schedule, jaccard, regime, rng)
    meta = {
        "source": "synthetic",
        "seed": seed,
        "regime": regime,
        "target_column_sparsity": schedule.tolist(),
        "target_jaccard": jaccard,
    }
    return MaskSet(spec.name, tuple(layer.name for layer in spec.layers), hot, meta)


def overlap_for(a: int, b: int, jaccard: float, columns: int) -> int:
    """Return the feasible intersection size of sets of sizes a, b nearest to ``jaccard``."""
    wanted = int(np.floor(jaccard * (a + b) / (1 + jaccard) + 0.5))
    return int(np.clip(wanted, max(0, a + b - columns), min(a, b)))


def _layer_masks(
    columns: int, schedule: np.ndarray, jaccard: float, regime: str, rng: np.random.Generator
) -> np.ndarray:
    sizes = np.rint((1.0 - schedule) * columns).astype(np.int64)
    masks = np.zeros((len(sizes), columns), dtype=bool)
    if regime == "concentration":
        centre = rng.integers(columns)
        # Distance to the centre, random jitter < 1 to break ties: nearest columns first.
        preference = np.abs(np.arange(columns) - centre) + rng.random(columns)
    else:
        preference = rng.random(columns)
    current = np.argsort(preference)[: sizes[0]]
    masks[0, current] = True
    last_hot = np.full(columns, -1)  # last iteration each column was hot (churn)
    hot_since = np.zeros(columns, dtype=np.int64)  # start of the current hot run (churn)
    last_hot[current] = 0
    for t in range(1, len(sizes)):
        keep_count = overlap_for(len(current), int(sizes[t]), jaccard, columns)
        free = np.flatnonzero(~masks[t - 1])
        if regime == "churn":
            kept = current[np.argsort(hot_since[current] - rng.random(len(current)))]
            kept = kept[len(current) - keep_count :]  # the most recently started stay
            added = free[np.argsort(last_hot[free] + rng.random(len(free)))]
        elif regime == "concentration":
            kept = rng.choice(current, size=keep_count, replace=False)
            added = free[np.argsort(preference[free])]
        else:
            kept = rng.choice(current, size=keep_count, replace=False)
            added = rng.permutation(free)
        added = added[: sizes[t] - keep_count]
        hot_since[added] = t
        current = np.concatenate([kept, added])
        masks[t, current] = True
        last_hot[current] = t
    return masks
