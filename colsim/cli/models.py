"""``colsim models list|show|train``: the workload specs and the trained tiny models."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from colsim.fileio import check_output_file
from colsim.models.registry import SIZES, workload_names, workload_spec
from colsim.models.spec import WorkloadSpec

CHECKPOINTS = 10  # loss is reported as the mean of this many equal windows of training steps


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``colsim models`` with its ``list``, ``show`` and ``train`` sub-commands."""
    parser = subparsers.add_parser("models", help="workload specs and tiny-model training")
    commands = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    listing = commands.add_parser("list", help="one line per workload")
    listing.add_argument("--size", choices=SIZES, default="full")
    listing.set_defaults(func=_list)

    show = commands.add_parser("show", help="every FFN layer of one workload")
    show.add_argument("name", metavar="NAME")
    show.add_argument("--size", choices=SIZES, default="full")
    show.set_defaults(func=_show)

    train = commands.add_parser("train", help="train a tiny model from a seed")
    train.add_argument("name", metavar="NAME")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", metavar="PATH", help="weights file (default: ./NAME.safetensors)")
    train.add_argument("--steps", type=int, help="optimiser steps (default: the model's config)")
    train.set_defaults(func=_train)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Return ``rows`` as a left-aligned text table under ``headers``."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _span(values: Sequence[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}-{high}"


def _list(args: argparse.Namespace) -> int:
    """Print one line per workload; GMAC/fwd is the FFN work of one sample's forward call."""
    rows = []
    for name in workload_names():
        spec = workload_spec(name, args.size)
        layers = spec.layers
        gated = {layer.gated for layer in layers}
        rows.append([
            name, spec.group, spec.modality, sum(layer.repeat for layer in layers),
            _span([layer.tokens for layer in layers]), _span([layer.d_model for layer in layers]),
            _span([layer.hidden for layer in layers]),
            "GEGLU" if gated == {True} else "GELU" if gated == {False} else "mixed",
            f"{sum(layer.macs for layer in layers) / 1e9:.3g}",
        ])
    headers = ["model", "group", "modality", "L", "M", "d", "N", "act", "GMAC/fwd"]
    print(format_table(headers, rows))
    return 0


def spec_table(spec: WorkloadSpec) -> str:
    """Return the per-layer table of ``spec`` with a totals line."""
    rows = [
        [i, layer.name, layer.tokens, layer.d_model, layer.hidden,
         "yes" if layer.gated else "no", layer.repeat, f"{layer.macs / 1e6:.1f}"]
        for i, layer in enumerate(spec.layers)
    ]
    headers = ["#", "layer (activation module)", "M", "d", "N", "gated", "repeat", "MMAC"]
    total = sum(layer.macs for layer in spec.layers) / 1e9
    return f"{format_table(headers, rows)}\ntotal FFN work per denoiser call: {total:.3f} GMAC"


def _show(args: argparse.Namespace) -> int:
    spec = workload_spec(args.name, args.size)
    print(f"{spec.name} ({args.size}): group {spec.group}, modality {spec.modality}, "
          f"{len(spec.layers)} FFN layers")
    print(f"source: {spec.source}")
    print(spec_table(spec))
    return 0


def _train(args: argparse.Namespace) -> int:
    from colsim.models.driver import build_denoiser
    from colsim.models.training import (
        noise_prediction_error,
        train_tiny_model,
        training_config,
        training_data,
        untrained_denoiser,
    )

    overrides = {} if args.steps is None else {"steps": args.steps}
    config = training_config(args.name, overrides)
    out = check_output_file(args.out or f"{args.name}.safetensors")
    result = train_tiny_model(args.name, seed=args.seed, config=config, out=out)
    window = max(1, len(result.losses) // CHECKPOINTS)
    print(f"trained {args.name} (seed {args.seed}, {config.steps} steps, batch "
          f"{config.batch_size}) in {result.seconds:.1f} s -> {result.path}")
    print("training loss (mean per window of steps):")
    for start in range(0, len(result.losses), window):
        chunk = result.losses[start : start + window]
        print(f"  steps {start:5d}-{start + len(chunk) - 1:5d}: {sum(chunk) / len(chunk):.4f}")
    samples, labels = training_data(args.name, "test", config, args.seed)
    trained = build_denoiser(args.name, weights=str(result.path))
    untrained = untrained_denoiser(args.name, args.seed)
    print("held-out noise-prediction MSE (trained vs untrained):")
    for timestep in (100, 500, 900):
        print(f"  t = {timestep:3d}: "
              f"{noise_prediction_error(trained, samples, labels, timestep=timestep):.4f} vs "
              f"{noise_prediction_error(untrained, samples, labels, timestep=timestep):.4f}")
    return 0
