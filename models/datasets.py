"""Training data of the tiny models: scikit-learn's digits and seeded synthetic trajectories."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits

from colsim.errors import ColsimError

DIGITS_TRAIN = 1500  # the first 1500 of the 1797 digits train; the rest are held out
TRAJECTORY_CLASSES = ("circle", "line", "wave", "zigzag")
TRAJECTORY_POINTS = 3  # root, elbow, tip: 2-D each -> 6 features per frame


def digits(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (images (n, 1, 8, 8) scaled to [-1, 1], labels (n,)) of the digits ``split``.

    ``split`` is "train" (the first 1500 images) or "test" (the other 297).
    """
    if split not in ("train", "test"):
        raise ColsimError(f"`split` must be one of 'train', 'test', not {split!r}")
    data = load_digits()
    images = torch.tensor(data.images, dtype=torch.float32)[:, None] / 8.0 - 1.0
    labels = torch.tensor(data.target, dtype=torch.long)
    part = slice(None, DIGITS_TRAIN) if split == "train" else slice(DIGITS_TRAIN, None)
    return images[part], labels[part]


def trajectories(count: int, frames: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (motions (count, frames, 6) in [-1, 1], class labels (count,)), seeded.

    A motion is a three-point 2-D chain: a root that follows its class's path (circle, straight
    line, sine wave or zigzag, with random size, speed and phase) and two limb points rotating
    about it at random rates.
    """
    if count <= 0 or frames <= 1:
        raise ColsimError(f"trajectories need count > 0 and frames > 1, not {count}, {frames}")
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(TRAJECTORY_CLASSES), size=count)
    t = np.linspace(0.0, 1.0, frames)[None, :]

    def uniform(low: float, high: float) -> np.ndarray:
        return rng.uniform(low, high, size=(count, 1))

    amplitude, freq, phase = uniform(0.2, 0.5), uniform(0.5, 2.0), uniform(0, 2 * np.pi)
    start, velocity = uniform(-0.5, 0.0), uniform(0.3, 0.8)
    heading = uniform(-np.pi, np.pi)
    angle = 2 * np.pi * freq * t + phase
    along = start + velocity * t
    triangle = 2 * np.abs(2 * ((freq * t * 2 + phase / (2 * np.pi)) % 1.0) - 1) - 1
    paths = {
        0: (amplitude * np.cos(angle), amplitude * np.sin(angle)),
        1: (along * np.cos(heading), along * np.sin(heading)),
        2: (along, amplitude * np.sin(angle)),
        3: (along, amplitude * triangle),
    }
    root_x = np.select([labels[:, None] == k for k in paths], [p[0] for p in paths.values()])
    root_y = np.select([labels[:, None] == k for k in paths], [p[1] for p in paths.values()])
    limb = uniform(-1.0, 1.0) * 2 * np.pi * t + uniform(0, 2 * np.pi)
    tip = limb * uniform(1.0, 2.0) + uniform(0, 2 * np.pi)
    elbow_x, elbow_y = root_x + 0.25 * np.cos(limb), root_y + 0.25 * np.sin(limb)
    tip_x, tip_y = elbow_x + 0.2 * np.cos(tip), elbow_y + 0.2 * np.sin(tip)
    motion = np.stack([root_x, root_y, elbow_x, elbow_y, tip_x, tip_y], axis=-1)
    motion = np.clip(motion, -1.0, 1.0).astype(np.float32)
    return torch.from_numpy(motion), torch.from_numpy(labels)
