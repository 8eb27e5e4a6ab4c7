"""Find the two linear layers of an FFN around its activation, for X and weight capture."""

from __future__ import annotations

from torch import nn

from colsim.errors import ColsimError
from colsim.profiler.capture import ACTIVATION_TYPES, resolve_layer
from colsim.profiler.profile import LayerInfo


def locate_ffn_linears(model: nn.Module, layer: LayerInfo) -> tuple[nn.Linear, nn.Linear]:
    """Return ``(first, second)``: the linears computing ``X·W1 + b1`` and ``h·W2 + b2``.

    ``first`` is the activation module's own ``proj`` (diffusers GELU/GEGLU), else the first
    linear inside a scope module with ``N`` (``2N`` gated) outputs, else the last such linear
    before an ``nn.GELU``. ``second`` is the next linear after ``first`` with ``N`` inputs.
    """
    width = layer.hidden * (2 if layer.gated else 1)
    module = resolve_layer(model, layer.name)
    ordered = [m for _, m in model.named_modules()]
    position = next(i for i, m in enumerate(ordered) if m is module)
    if isinstance(getattr(module, "proj", None), nn.Linear):
        first = module.proj
    elif not isinstance(module, ACTIVATION_TYPES):
        inside = [m for m in module.modules() if _linear(m, out=width)]
        first = inside[0] if inside else None
    else:
        before = [m for m in ordered[:position] if _linear(m, out=width)]
        first = before[-1] if before else None
    if first is None:
        raise ColsimError(f"FFN layer {layer.name!r} has no linear with {width} outputs")
    start = next(i for i, m in enumerate(ordered) if m is first)
    after = [m for m in ordered[start + 1 :] if _linear(m, into=layer.hidden)]
    if not after:
        raise ColsimError(f"FFN layer {layer.name!r} has no linear with {layer.hidden} inputs")
    return first, after[0]


def _linear(module: nn.Module, *, out: int | None = None, into: int | None = None) -> bool:
    if not isinstance(module, nn.Linear):
        return False
    return (out is None or module.out_features == out) and (
        into is None or module.in_features == into
    )
