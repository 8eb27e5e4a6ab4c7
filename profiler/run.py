"""Profile a denoiser over a full denoising run (``colsim profile``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tqdm import tqdm

from colsim.errors import ColsimError
from colsim.models.driver import Denoiser, build_denoiser, check_run_arguments, run_denoising
from colsim.profiler.profile import LayerInfo, Profile
from colsim.profiler.recorder import ProfileRecorder
from colsim.provenance import package_versions


def parse_capture_inputs(text: str, layer_names: tuple[str, ...]) -> list[tuple[str, int]]:
    """Parse ``L:T,...`` where L is a layer index or name and T an iteration index."""
    pairs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        layer, sep, iteration = item.rpartition(":")
        if not sep or not iteration.isdigit():
            raise ColsimError(f"`capture_inputs` item {item!r} is not LAYER:ITERATION")
        if layer.isdigit():
            if int(layer) >= len(layer_names):
                raise ColsimError(
                    f"`capture_inputs` layer index {layer} is outside [0, {len(layer_names)})"
                )
            layer = layer_names[int(layer)]
        elif layer not in layer_names:
            raise ColsimError(f"`capture_inputs` names unknown layer {layer!r}")
        pairs.append((layer, int(iteration)))
    return pairs


def profile_denoiser(
    denoiser: Denoiser,
    *,
    steps: int = 50,
    seed: int = 0,
    guidance_scale: float | None = None,
    scheduler: str = "ddim",
    capture_inputs: Iterable[tuple[str, int]] = (),
    progress: bool = True,
    meta: dict[str, Any] | None = None,
) -> Profile:
    """Run ``denoiser`` for ``steps`` iterations and return its profile (nothing is written).

    The metadata records ``reduce_seconds``, the wall time spent inside the reduction hooks.
    """
    check_run_arguments(steps, guidance_scale, denoiser.schedule)  # before sizing the record
    layers = [LayerInfo.from_spec_layer(layer) for layer in denoiser.spec.layers]
    capture_inputs = list(capture_inputs)
    recorder = ProfileRecorder(
        denoiser.module, layers, iterations=steps, capture_inputs=capture_inputs
    )
    bar = tqdm(total=steps, desc=f"profile {denoiser.name}", unit="step", disable=not progress)

    def on_iteration(iteration: int) -> None:
        recorder.start_iteration(iteration)
        bar.update(1)  # counts iterations started

    with bar, recorder:
        run_denoising(
            denoiser, steps=steps, seed=seed, guidance_scale=guidance_scale,
            on_iteration=on_iteration, scheduler=scheduler,
        )
    dtype = next(denoiser.module.parameters()).dtype
    record = {
        "model": denoiser.name,
        "size": denoiser.size,
        "seed": seed,
        "steps": steps,
        "scheduler": scheduler,
        "guidance_scale": guidance_scale,
        "dtype": str(dtype).removeprefix("torch."),
        "modality": denoiser.spec.modality,
        "spec_source": denoiser.spec.source,
        "versions": package_versions(),
        "reduce_seconds": recorder.reduce_seconds,
        "capture_inputs": [f"{layer}:{t}" for layer, t in capture_inputs],
        **(meta or {}),
    }
    return recorder.profile(record)


def profile_model(
    name: str,
    *,
    size: str = "tiny",
    weights: str | None = None,
    capture_inputs: str = "",
    seed: int = 0,
    **run_options: Any,
) -> Profile:
    """Build workload ``name`` and profile it; ``capture_inputs`` is the ``L:T,...`` text."""
    denoiser = build_denoiser(name, size=size, weights=weights, seed=seed)
    pairs = parse_capture_inputs(capture_inputs, denoiser.spec.layer_names)
    meta = {"weights": weights or "built-in (trained tiny model or seeded random)"}
    return profile_denoiser(
        denoiser, seed=seed, capture_inputs=pairs, meta=meta, **run_options
    )
