"""``colsim profile | sparsity | plot | accuracy`` and ``colsim bench profile``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from colsim.fileio import check_output_dir, check_output_file

if TYPE_CHECKING:
    from colsim.profiler.profile import Profile

# colsim.profiler.histogram compiles its kernel with numba, so the parser does not import it:
# this is its REFERENCE_THRESHOLD, for the help text only.
REFERENCE_THRESHOLD_TEXT = "0.164"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the profiler's commands."""
    parser = subparsers.add_parser("profile", help="profile a denoiser's FFN activations")
    _add_model_arguments(parser)
    parser.add_argument("--capture-inputs", default="", metavar="L:T,...",
                        help="keep FFN inputs X and weights of layer L (index or name) at "
                             "iteration T, for RTL runs")
    parser.add_argument("--out", required=True, help="profile file to write (HDF5)")
    parser.set_defaults(func=_profile)

    parser = subparsers.add_parser("sparsity", help="per-layer sparsity table of a profile")
    parser.add_argument("file", help="profile file")
    _add_threshold_arguments(parser)
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--csv", action="store_true", help="print the per-layer rows as CSV")
    form.add_argument("--json", action="store_true", help="print rows and summary as JSON")
    form.add_argument("--sweep", choices=("tau", "rho"),
                      help="print the summary at each sweep value (0.10 ... 0.20) instead")
    parser.add_argument("--masks", metavar="FILE", help="also export the hot masks (.npz)")
    parser.set_defaults(func=_sparsity)

    parser = subparsers.add_parser("plot", help="PNG figures of a profile")
    parser.add_argument("file", help="profile file")
    _add_threshold_arguments(parser)
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the PNGs")
    parser.set_defaults(func=_plot)

    parser = subparsers.add_parser(
        "accuracy", help="dense vs masked denoising gap (MSE, PSNR, SSIM / MPJPE)"
    )
    _add_model_arguments(parser)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--profile", metavar="FILE", help="derive masks from this profile")
    source.add_argument("--masks", metavar="FILE", help="use this mask file (.npz)")
    _add_threshold_arguments(parser)
    parser.add_argument("--mode", choices=("reuse", "zero"), default="reuse",
                        help="cold columns reuse their iteration-0 values (FFN-Reuse) or are "
                             "zeroed")
    parser.add_argument("--joint-dims", type=int, default=None,
                        help="motion: coordinates per joint, enables MPJPE")
    parser.add_argument("--samples", type=int, default=1, metavar="N",
                        help="denoise N dense/masked pairs (seeds SEED ... SEED+N-1) and "
                             "average the metrics")
    parser.add_argument("--fid-network", metavar="FILE",
                        help="TorchScript network mapping the N×C×H×W samples (its own resize "
                             "and normalisation baked in) to N×F features: adds the Fréchet "
                             "distance (needs --samples >= 2)")
    parser.add_argument("--out", metavar="DIR",
                        help="add the result as a row of DIR/accuracy.{parquet,csv} (a rerun "
                             "at the same model, threshold, mode and seed replaces it)")
    parser.add_argument("--lpips-network", metavar="FILE",
                        help="TorchScript network returning a list of N×C×H×W feature maps: "
                             "adds the LPIPS-style distance (uniform channel weights)")
    parser.set_defaults(func=_accuracy)


def register_bench(subparsers: argparse._SubParsersAction) -> None:
    """Add ``colsim bench profile``: hook overhead and peak memory."""
    parser = subparsers.add_parser("profile", help="profiler hook overhead and peak RSS")
    parser.add_argument("--model", default="tiny-dit")
    parser.add_argument("--size", choices=("tiny", "full"), default="tiny")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--guidance-scale", type=float, default=None)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads for both runs (default: torch's own)")
    parser.set_defaults(func=_bench)


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="workload name (colsim models list)")
    parser.add_argument("--size", choices=("tiny", "full"), default="tiny")
    parser.add_argument("--weights", default=None, help="local checkpoint to load")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--guidance-scale", type=float, default=None,
                        help="classifier-free guidance scale (batched cond + uncond forward)")
    parser.add_argument("--scheduler", choices=("ddim", "ddpm"), default="ddim")


def _add_threshold_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--tau", type=float, default=None,
                       help=f"uniform threshold (default {REFERENCE_THRESHOLD_TEXT})")
    group.add_argument("--rho", type=float, default=None,
                       help="per-layer target hot ratio (calibrated thresholds)")


def _run_options(args: argparse.Namespace) -> dict:
    return {"steps": args.steps, "seed": args.seed, "guidance_scale": args.guidance_scale,
            "scheduler": args.scheduler}


def _profile(args: argparse.Namespace) -> int:
    from colsim import api

    check_output_file(args.out)
    profile = api.profile(model=args.model, size=args.size, weights=args.weights,
                          capture_inputs=args.capture_inputs, **_run_options(args))
    profile.save(args.out)
    print_profile_written(args.out, profile)
    return 0


def print_profile_written(path: str | Path, profile: Profile) -> None:
    """Print what the profile file at ``path`` holds."""
    print(f"wrote {path}: {len(profile.layers)} FFN layers x {profile.iterations} "
          f"iterations, {len(profile.inputs)} captured inputs")


def _sparsity(args: argparse.Namespace) -> int:
    from colsim import api
    from colsim.profiler.histogram import SWEEP_THRESHOLDS
    from colsim.profiler.profile import Profile
    from colsim.profiler.report import threshold_sweep

    if args.masks:
        check_output_file(args.masks)
    profile = Profile.load(args.file)
    if args.sweep:
        sys.stdout.write(threshold_sweep(profile, args.sweep, SWEEP_THRESHOLDS))
        return 0
    report = api.sparsity(profile, tau=args.tau, rho=args.rho)
    if args.json:
        sys.stdout.write(report.to_json() + "\n")
    elif args.csv:
        sys.stdout.write(report.to_csv())
    else:
        sys.stdout.write(report.to_text())
    if args.masks:
        api.masks_from_profile(profile, tau=args.tau, rho=args.rho).save(args.masks)
    return 0


def _plot(args: argparse.Namespace) -> int:
    from colsim.analysis.profile_plots import plot_profile
    from colsim.profiler.profile import Profile

    check_output_dir(args.out)
    for path in plot_profile(Profile.load(args.file), args.out, tau=args.tau, rho=args.rho):
        print(f"wrote {path}")
    return 0


def _accuracy(args: argparse.Namespace) -> int:
    from colsim import api
    from colsim.masks import MaskSet
    from colsim.profiler.profile import Profile

    if args.out:
        check_output_dir(args.out)
    if args.masks:
        masks = MaskSet.load(args.masks)
    else:
        masks = api.masks_from_profile(Profile.load(args.profile), tau=args.tau, rho=args.rho)
    result = api.accuracy(model=args.model, masks=masks, size=args.size, weights=args.weights,
                          mode=args.mode, joint_dims=args.joint_dims, samples=args.samples,
                          fid_network=args.fid_network, lpips_network=args.lpips_network,
                          **_run_options(args))
    print(json.dumps(result, indent=2, sort_keys=True))
    if args.out:
        _record_accuracy(Path(args.out), result, masks.meta, args)
    return 0


ACCURACY_KEY = ("model", "size", "axis", "value", "mode", "seed", "steps", "samples")


def _record_accuracy(out: Path, result: dict, meta: dict, args: argparse.Namespace) -> None:
    """Add the accuracy result as one row of ``out/accuracy`` (keyed by ACCURACY_KEY)."""
    from colsim.analysis.results import merge_rows
    from colsim.provenance import package_versions

    axis = "rho" if meta.get("rho") is not None else "tau" if "tau" in meta else "masks"
    row = {"model": args.model, "size": args.size, "axis": axis,
           "value": meta.get(axis) if axis != "masks" else None,
           "samples": args.samples, **{k: v for k, v in result.items() if k != "model"},
           "masks": args.masks or args.profile, "versions": package_versions(),
           "command": " ".join(sys.argv)}
    parquet, csv = merge_rows([row], out / "accuracy", ACCURACY_KEY)
    print(f"wrote {parquet} and {csv}")


def _bench(args: argparse.Namespace) -> int:
    from colsim.profiler.bench import measure_hook_overhead

    result = measure_hook_overhead(args.model, size=args.size, steps=args.steps,
                                   repeats=args.repeats, seed=args.seed,
                                   guidance_scale=args.guidance_scale, threads=args.threads)
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0
