"""Workload spec (contract 1): every FFN layer of a denoiser with its GEMM dimensions.

A layer computes ``h = act(X·W1 + b1)`` with ``X`` of shape M×d and ``h`` of shape M×N (for a
gated GEGLU layer ``W1`` is d×2N and ``h = value ⊙ GELU(gate)``); ``h·W2`` maps back to d.
M counts every token of ONE sample that passes through the layer in one denoiser forward call
(for video: frames × height × width); a classifier-free-guidance batch doubles the calls, not M.
"""

from __future__ import annotations

from dataclasses import dataclass

from colsim.errors import ColsimError


@dataclass(frozen=True)
class FfnLayer:
    """One FFN layer: ``name`` is the qualified name of its activation module in the denoiser."""

    name: str
    tokens: int  # M
    d_model: int  # d
    hidden: int  # N
    gated: bool  # GEGLU: W1 is d×2N
    repeat: int = 1

    def __post_init__(self) -> None:
        if not self.name:
            raise ColsimError("FFN layer `name` must be a non-empty string")
        for key in ("tokens", "d_model", "hidden", "repeat"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ColsimError(
                    f"`{key}` of FFN layer {self.name!r} must be a positive integer, not {value!r}"
                )
        if not isinstance(self.gated, bool):
            raise ColsimError(
                f"`gated` of FFN layer {self.name!r} must be a bool, not {self.gated!r}"
            )

    @property
    def w1_columns(self) -> int:
        """Return the number of columns of W1 (2N for GEGLU, else N)."""
        return 2 * self.hidden if self.gated else self.hidden

    @property
    def macs(self) -> int:
        """Return the multiply-accumulates of one dense pass (both GEMMs, × repeat)."""
        return self.repeat * self.tokens * self.d_model * (self.w1_columns + self.hidden)


@dataclass(frozen=True)
class WorkloadSpec:
    """A denoiser's FFN layers in forward order, with where their dimensions come from."""

    name: str
    group: str
    modality: str
    layers: tuple[FfnLayer, ...]
    source: str  # where the dimensions come from
    operating_point: str = "public"  # "public" configuration or the "study"'s Table 1

    def __post_init__(self) -> None:
        if not self.layers:
            raise ColsimError(f"workload {self.name!r} must have at least one FFN layer")
        names = [layer.name for layer in self.layers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ColsimError(f"workload {self.name!r} repeats FFN layer name {duplicates[0]!r}")

    @property
    def layer_names(self) -> tuple[str, ...]:
        """Return the layer names in forward order."""
        return tuple(layer.name for layer in self.layers)

    def layer(self, name: str) -> FfnLayer:
        """Return the layer called ``name``; an unknown name is a ColsimError."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ColsimError(f"workload {self.name!r} has no FFN layer {name!r}")
