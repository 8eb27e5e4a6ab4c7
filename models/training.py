"""Train the project's tiny denoisers (ε-prediction, DDPM noise schedule), reproducibly.

``tiny-dit`` learns scikit-learn's digits (class-conditional), ``tiny-motion`` seeded synthetic
trajectories (class-conditional). Both drop 10 % of the labels during training so that
classifier-free guidance works. The same seed and config give the same weights on the same
machine and thread count.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from colsim import __version__
from colsim.config.loader import in_range, non_negative, positive, to_mapping, with_overrides
from colsim.errors import ColsimError
from colsim.models.datasets import digits, trajectories
from colsim.models.driver import Denoiser, make_scheduler, random_denoiser
from colsim.models.motion import MotionShape
from colsim.models.registry import get_entry, shape_of
from colsim.models.weights import save_weights


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings of one tiny model."""

    steps: int = field(default=2000, metadata=positive())
    batch_size: int = field(default=128, metadata=positive())
    learning_rate: float = field(default=2e-3, metadata=positive())
    warmup_steps: int = field(default=100, metadata=non_negative())
    weight_decay: float = field(default=0.0, metadata=non_negative())
    grad_clip: float = field(default=1.0, metadata=positive())
    train_samples: int = field(default=4096, metadata=positive())  # synthetic data only
    eval_fraction: float = field(default=0.1, metadata=in_range(0.0, 0.5))  # synthetic only


TRAIN_THREADS = 1  # one thread: the same weights whatever the core count, no spin contention

TRAINING: dict[str, TrainConfig] = {
    "tiny-dit": TrainConfig(steps=400, batch_size=128, learning_rate=3e-3, warmup_steps=40),
    "tiny-motion": TrainConfig(steps=500, batch_size=128, learning_rate=3e-3, warmup_steps=40),
}


@dataclass(frozen=True)
class TrainResult:
    """What one training run produced."""

    model: str
    seed: int
    config: TrainConfig
    losses: tuple[float, ...]  # training loss of every step
    seconds: float
    path: Path | None


def trainable_names() -> list[str]:
    """Return the names of the models that ``train_tiny_model`` can train."""
    return list(TRAINING)


def training_config(name: str, overrides: dict | None = None) -> TrainConfig:
    """Return the default training config of ``name`` with ``overrides`` applied and checked."""
    if name not in TRAINING:
        known = ", ".join(TRAINING)
        raise ColsimError(f"model {name!r} cannot be trained here (trainable models: {known})")
    return with_overrides(TRAINING[name], overrides or {})


def training_data(
    name: str, split: str, config: TrainConfig, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (clean samples, labels) of ``name``'s ``split`` ("train" or "test")."""
    if name == "tiny-dit":
        return digits(split)
    shape = shape_of(get_entry(name), "full")
    assert isinstance(shape, MotionShape)
    held_out = max(1, round(config.train_samples * config.eval_fraction))
    if split == "train":
        return trajectories(config.train_samples, shape.frames, seed)
    return trajectories(held_out, shape.frames, seed + 1_000_003)


def untrained_denoiser(name: str, seed: int) -> Denoiser:
    """Return ``name`` as initialised from ``seed`` before training (the RNG is untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return random_denoiser(name, "full")


def noise_prediction_error(
    denoiser: Denoiser, samples: torch.Tensor, labels: torch.Tensor, *, timestep: int,
    seed: int = 0,
) -> float:
    """Return the mean squared ε-prediction error on ``samples`` noised to ``timestep``."""
    scheduler = make_scheduler("ddpm", denoiser.schedule)
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(samples.shape, generator=generator)
    timesteps = torch.full((samples.shape[0],), timestep, dtype=torch.long)
    noisy = scheduler.add_noise(samples, noise, timesteps)
    was_training = denoiser.module.training
    denoiser.module.eval()
    with torch.no_grad():
        predicted = denoiser.predict_noise(noisy, timesteps, labels)
    denoiser.module.train(was_training)
    return float(torch.mean((predicted - noise) ** 2))


def train_tiny_model(
    name: str, *, seed: int = 0, config: TrainConfig | None = None, out: str | Path | None = None,
    progress: bool = True, on_step: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train ``name`` from ``seed``; write its weights to ``out`` (atomically) when given."""
    config = config or training_config(name)
    threads = torch.get_num_threads()
    torch.set_num_threads(TRAIN_THREADS)
    try:
        return _train(name, seed, config, out, progress, on_step)
    finally:
        torch.set_num_threads(threads)


def _train(
    name: str, seed: int, config: TrainConfig, out: str | Path | None, progress: bool,
    on_step: Callable[[int, float], None] | None,
) -> TrainResult:
    samples, labels = training_data(name, "train", config, seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        denoiser = random_denoiser(name, "full")
        module = denoiser.module
        module.train()
        scheduler = make_scheduler("ddpm", denoiser.schedule)
        optimiser = torch.optim.AdamW(
            module.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
        )
        schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, _warmup_cosine(config))
        losses: list[float] = []
        start = time.perf_counter()
        for step in tqdm(range(config.steps), desc=f"train {name}", disable=not progress):
            index = torch.randint(0, samples.shape[0], (config.batch_size,))
            clean, label = samples[index], labels[index]
            noise = torch.randn_like(clean)
            timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (clean.shape[0],))
            noisy = scheduler.add_noise(clean, noise, timesteps)
            loss = torch.mean((denoiser.predict_noise(noisy, timesteps, label) - noise) ** 2)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(module.parameters(), config.grad_clip)
            optimiser.step()
            schedule.step()
            losses.append(loss.item())
            if on_step is not None:
                on_step(step, losses[-1])
        seconds = time.perf_counter() - start
    module.eval()
    path = None
    if out is not None:
        metadata = {
            "model": name, "seed": str(seed), "config": json.dumps(to_mapping(config)),
            "colsim": __version__, "torch": torch.__version__,
        }
        path = save_weights(module, out, metadata)
    return TrainResult(name, seed, config, tuple(losses), seconds, path)


def _warmup_cosine(config: TrainConfig) -> Callable[[int], float]:
    """Return the learning-rate factor: linear warm-up, then cosine decay to 5 %."""
    def factor(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        span = max(1, config.steps - config.warmup_steps)
        progress = min(1.0, (step - config.warmup_steps) / span)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))

    return factor
