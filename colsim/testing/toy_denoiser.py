"""A toy denoiser with every FFN flavour the profiler must find (imports torch and diffusers).

:class:`ToyDenoiser` chains a GEGLU and a GELU feed-forward (diffusers), an ``nn.GELU`` MLP
and an MLP that calls ``torch.nn.functional.gelu`` directly; ``hidden_activations``
recomputes every hidden activation without hooks, the brute-force reference the profiler's
capture, metrics and file tests compare against.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.models.attention import FeedForward
from torch import nn

from colsim.profiler.profile import LayerInfo


class GeluModuleMlp(nn.Module):
    """Linear → nn.GELU → Linear."""

    def __init__(self, d: int, n: int) -> None:
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(d, n), nn.GELU(), nn.Linear(n, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.fc1(x))


class FunctionalGeluMlp(GeluModuleMlp):
    """Calls ``torch.nn.functional.gelu`` directly (no activation module)."""

    def __init__(self, d: int, n: int) -> None:
        super().__init__(d, n)
        del self.act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class ToyDenoiser(nn.Module):
    """Four FFN flavours in a row: GEGLU, GELU (diffusers), nn.GELU, functional GELU."""

    def __init__(self, d: int = 8, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.geglu = FeedForward(d, mult=4, activation_fn="geglu")
        self.gelu = FeedForward(d, mult=2, activation_fn="gelu-approximate")
        self.mlp = GeluModuleMlp(d, 24)
        self.functional = FunctionalGeluMlp(d, 40)
        for linear in (self.geglu.net[0].proj, self.gelu.net[0].proj, self.mlp.fc1,
                       self.functional.fc1):
            nn.init.uniform_(linear.bias, -4.0, 1.0)  # many near-zero (cold) columns

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in (self.geglu, self.gelu, self.mlp, self.functional):
            x = x + block(x)
        return x

    def hidden_activations(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Recompute every h without hooks (the brute-force reference)."""
        out = {}
        value, gate = self.geglu.net[0].proj(x).chunk(2, dim=-1)
        out[TOY_LAYERS[0]] = value * F.gelu(gate)
        x = x + self.geglu(x)
        out[TOY_LAYERS[1]] = F.gelu(self.gelu.net[0].proj(x), approximate="tanh")
        x = x + self.gelu(x)
        out[TOY_LAYERS[2]] = self.mlp.hidden(x)
        x = x + self.mlp(x)
        out[TOY_LAYERS[3]] = self.functional.hidden(x)
        return out


TOY_LAYERS = ("geglu.net.0", "gelu.net.0", "mlp.act", "functional")


def toy_layer_infos(tokens: int, d: int = 8) -> list[LayerInfo]:
    """Return the layer table of :class:`ToyDenoiser`."""
    return [
        LayerInfo(TOY_LAYERS[0], tokens, d, 32, True),
        LayerInfo(TOY_LAYERS[1], tokens, d, 16, False),
        LayerInfo(TOY_LAYERS[2], tokens, d, 24, False),
        LayerInfo(TOY_LAYERS[3], tokens, d, 40, False),
    ]
