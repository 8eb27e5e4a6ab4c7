"""Intercept every FFN activation ``h`` of a torch model (DESIGN.md §1, issue point 4).

An *FFN layer* is named by the qualified name of one module of the model:

* an **activation module** (``nn.GELU``, diffusers ``GELU``, ``GEGLU``, ``ApproximateGELU``):
  ``h`` is the module's output. For ``GEGLU`` that is the gated product
  ``value ⊙ GELU(gate)``, the tensor that multiplies ``W2``; the ``F.gelu`` call inside the
  module is not captured a second time;
* any other module (a *scope*) whose forward calls ``torch.nn.functional.gelu`` directly, or
  holds ``F.gelu`` as an attribute (``nn.TransformerEncoderLayer(activation="gelu")``): ``h``
  is the output of each such call made while the scope runs (outside activation modules).

:class:`ActivationHooks` is a context manager that installs forward hooks and a temporary
patch of ``F.gelu`` and removes every one of them on exit, exceptions included. For each
activation it calls ``on_activation(layer_name, h)``; a tensor returned by the callback
replaces ``h`` in the forward pass (masked execution), ``None`` leaves it untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from diffusers.models.activations import GEGLU, GELU, ApproximateGELU
from torch import nn

from colsim.errors import ColsimError

ACTIVATION_TYPES: tuple[type[nn.Module], ...] = (nn.GELU, GELU, GEGLU, ApproximateGELU)
"""Module types whose output is an FFN activation ``h``."""

ActivationCallback = Callable[[str, torch.Tensor], torch.Tensor | None]


def discover_ffn_layers(model: nn.Module) -> list[str]:
    """Return the qualified names of the model's activation modules, in registration order.

    Models that call ``F.gelu`` directly have no such module: name their FFN modules
    explicitly (as scopes) instead.
    """
    return [name for name, module in model.named_modules() if isinstance(module, ACTIVATION_TYPES)]


def resolve_layer(model: nn.Module, name: str) -> nn.Module:
    """Return the sub-module called ``name``; an unknown name is a :class:`ColsimError`."""
    try:
        return model.get_submodule(name)
    except AttributeError:
        raise ColsimError(f"FFN layer {name!r} is not a module of the model") from None


class ActivationHooks:
    """Context manager calling ``on_activation(layer, h)`` for every FFN activation.

    ``layers`` are qualified module names (default: :func:`discover_ffn_layers`); each must
    name a distinct module. Only when some layer is a scope are ``F.gelu`` patched and the
    ``torch.backends.mha`` fast path disabled (so ``nn.TransformerEncoderLayer`` runs its
    Python FFN); models whose layers are all activation modules run their usual code paths.
    """

    def __init__(
        self,
        model: nn.Module,
        on_activation: ActivationCallback,
        layers: Sequence[str] | None = None,
    ) -> None:
        self.model = model
        self.on_activation = on_activation
        self.layers = tuple(discover_ffn_layers(model) if layers is None else layers)
        if not self.layers:
            raise ColsimError("the model has no FFN activation modules to capture")
        if len(set(self.layers)) != len(self.layers):
            raise ColsimError(f"FFN layer names repeat: {list(self.layers)}")
        self._modules = {name: resolve_layer(model, name) for name in self.layers}
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self._restore: list[Callable[[], None]] = []
        self._scopes: list[str] = []  # stack of running scope layers
        self._activation_depth = 0  # > 0 while an activation module runs

    def __enter__(self) -> ActivationHooks:
        try:
            scopes = not all(isinstance(m, ACTIVATION_TYPES) for m in self._modules.values())
            for name, module in self._modules.items():
                if isinstance(module, ACTIVATION_TYPES):
                    self._hook_activation_module(name, module, track_depth=scopes)
                else:
                    self._hook_scope(name, module)
            if scopes:
                self._patch_gelu()
        except BaseException:
            self._remove()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._remove()

    # -- installation --------------------------------------------------------------------

    def _hook_activation_module(self, name: str, module: nn.Module, *, track_depth: bool) -> None:
        if not track_depth:  # F.gelu is not patched: one hook, the cheapest per call
            def capture(_module: nn.Module, _args: object, output: torch.Tensor) -> object:
                return self.on_activation(name, output)

            self._handles.append(module.register_forward_hook(capture))
            return

        def enter(_module: nn.Module, _args: object) -> None:
            self._activation_depth += 1

        def leave(_module: nn.Module, _args: object, output: torch.Tensor) -> torch.Tensor | None:
            self._activation_depth -= 1
            return self.on_activation(name, output)

        self._handles.append(module.register_forward_pre_hook(enter))
        self._handles.append(module.register_forward_hook(leave, always_call=True))

    def _hook_scope(self, name: str, module: nn.Module) -> None:
        def enter(_module: nn.Module, _args: object) -> None:
            self._scopes.append(name)

        def leave(_module: nn.Module, _args: object, _output: object) -> None:
            self._scopes.pop()

        self._handles.append(module.register_forward_pre_hook(enter))
        self._handles.append(module.register_forward_hook(leave, always_call=True))
        for attribute, value in list(vars(module).items()):
            if value is F.gelu:
                setattr(module, attribute, self._patched_gelu)
                self._restore.append(lambda m=module, a=attribute: setattr(m, a, F.gelu))

    def _patch_gelu(self) -> None:
        original = F.gelu
        self._original_gelu = original
        F.gelu = self._patched_gelu
        self._restore.append(lambda: setattr(F, "gelu", original))
        fastpath = torch.backends.mha.get_fastpath_enabled()
        torch.backends.mha.set_fastpath_enabled(False)
        self._restore.append(lambda: torch.backends.mha.set_fastpath_enabled(fastpath))

    def _patched_gelu(self, input: torch.Tensor, approximate: str = "none") -> torch.Tensor:
        output = self._original_gelu(input, approximate=approximate)
        if self._scopes and self._activation_depth == 0:
            replaced = self.on_activation(self._scopes[-1], output)
            if replaced is not None:
                return replaced
        return output

    def _remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        for restore in reversed(self._restore):
            restore()
        self._handles.clear()
        self._restore.clear()
        self._scopes.clear()
        self._activation_depth = 0

