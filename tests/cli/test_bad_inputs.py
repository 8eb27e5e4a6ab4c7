"""Every bad input of issue 17 is one clear line: exit 2, the line names the value, no
traceback, nothing left at the destination.

A case is a command line (``{in}`` is the folder of prepared inputs, ``{out}`` the
destination, which must not exist afterwards) and a fragment of the one error line.
Output-path cases of every writing command are in ``test_output_paths.py``.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from colsim.cli import main
from colsim.profiler.profile import CapturedInput, LayerInfo, Profile

TINY = ["--model", "tiny-dit", "--size", "tiny", "--iterations", "2"]
CASES = {
    # 2: timing relations the model needs, and JEDEC relations, in DRAM and hardware files
    "dram refi below rfc": (["dram", "run", "--trace", "{in}/good.trace", "--config",
                             "{in}/refi.toml"], "`timing.rfc` (120) must be below "
                                                "`timing.refi` (50)"),
    "hw refi below rfc": (["simulate", *TINY, "--config", "{in}/hw-refi.toml", "--out",
                           "{out}/r.json"], "`timing.rfc` (120) must be below `timing.refi`"),
    "tRAS above tRC": (["dram", "run", "--trace", "{in}/good.trace", "--config",
                        "{in}/ras.toml"], "`timing.ras` (90) must be at most `timing.rc` (79)"),
    "write drain never ends": (["dram", "run", "--trace", "{in}/good.trace", "--config",
                                "{in}/drain.toml"],
                               "`controller.write_low_watermark` must be above 0"),
    # 4: an output path that cannot be written (one case; every command: test_output_paths)
    "output is a folder": (["simulate", *TINY, "--out", "{in}"], "is a folder"),
    # 5: a folder given as a config file
    "simulate --config DIR": (["simulate", *TINY, "--config", "{in}", "--out", "{out}/r.json"],
                              "is a directory, not a TOML file"),
    "dram --config DIR": (["dram", "run", "--trace", "{in}/good.trace", "--config", "{in}"],
                          "is a directory, not a TOML file"),
    "synth --config DIR": (["synth", "--config", "{in}"], "is a directory, not a TOML file"),
    "rtl-run --config DIR": (["rtl-run", "--profile", "{in}/profile.h5", "--layer", "l",
                              "--config", "{in}", "--out", "{out}/r.json"],
                             "is a directory, not a TOML file"),
    # 6: sizes that cannot fit, refused before allocating
    "iterations 1e9": (["simulate", "--model", "tiny-dit", "--size", "tiny", "--iterations",
                        "1000000000", "--out", "{out}/r.json"],
                       "`iterations` 1,000,000,000 of 'tiny-dit' (3 layers) needs about"),
    "channels 1e8": (["dram", "run", "--trace", "{in}/good.trace", "--channels", "100000000"],
                     "(100,000,000 channels of 16 banks, queues of 32 + 32) needs about"),
    "requests -5": (["bench", "dram", "--requests", "-5"],
                    "`requests` must be a positive integer, not -5"),
    # 7: an infinite clock
    "core_mhz inf": (["simulate", *TINY, "--config", "{in}/inf.toml", "--out", "{out}/r.json"],
                     "`clock.core_mhz` must be a finite number, not inf"),
    # 8: a hot ratio or synthetic sparsity out of range names what the user typed
    "rho 1.5 synthetic": (["simulate", *TINY, "--synthetic", "jaccard=0.9", "--rho", "1.5",
                           "--out", "{out}/r.json"],
                          "`rho` must be a hot ratio in [0, 1], not 1.5"),
    "sparsity 1.5": (["simulate", *TINY, "--synthetic", "sparsity=1.5", "--out",
                      "{out}/r.json"], "synthetic `sparsity` must be in [0, 1], not '1.5'"),
    # 9: the whole sweep grid is validated before the first run
    "sweep rho 1.5": (["sweep", "--models", "tiny-dit", "--size", "tiny", "--rhos", "0.2",
                       "1.5", "--out", "{out}"], "`rho` must be a hot ratio in [0, 1], not 1.5"),
    "sweep missing profiles": (["sweep", "--models", "tiny-dit", "--size", "tiny", "--taus",
                                "0.1", "--profiles", "{in}/none", "--out", "{out}"],
                               "none' does not exist"),
    # 10: the weak spots
    "tau 1e300": (["sparsity", "{in}/profile.h5", "--tau", "1e300", "--masks",
                   "{out}/m.npz"], "`tau` must be at most 3.403e+38"),
    "steps 0": (["profile", "--model", "tiny-dit", "--steps", "0", "--out", "{out}/p.h5"],
                "`steps` must be an integer in [1, 1000], not 0"),
    "array 1x1": (["rtl-run", "--profile", "{in}/profile.h5", "--layer", "l", "--array",
                   "1x1", "--operands", "random", "--out", "{out}/r.json"],
                  "the RTL top needs a systolic array of at least 2x2, not 1x1"),
    "NaN in a profile": (["sparsity", "{in}/nan-colmax.h5"],
                         "`colmax` of layer 'l' holds nan at index (1, 3)"),
    "NaN in captured inputs": (["rtl-run", "--profile", "{in}/nan-input.h5", "--layer", "l",
                                "--out", "{out}/r.json"],
                               "captured input l:0 holds nan at index (2, 5)"),
    "trace address 1_000": (["dram", "run", "--trace", "{in}/underscore.trace"],
                            "underscore.trace:2: malformed address '1_000'"),
    "regress -n 0": (["regress", "-n", "0", "--junit", "{out}/r.xml"],
                     "`jobs` must be a positive integer, not 0"),
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """Write every prepared input of the cases into one folder."""
    folder = tmp_path_factory.mktemp("in")
    (folder / "good.trace").write_text("LD 0x0\nST 0x80\n")
    (folder / "underscore.trace").write_text("LD 0x0\nLD 1_000\n")
    (folder / "refi.toml").write_text("[timing]\nrefi = 50\n")
    (folder / "ras.toml").write_text("[timing]\nras = 90\n")
    (folder / "drain.toml").write_text("[controller]\nwrite_low_watermark = 0.0\n")
    (folder / "hw-refi.toml").write_text('[dram]\nfile = "refi.toml"\n')
    (folder / "inf.toml").write_text("[clock]\ncore_mhz = inf\n")
    info = LayerInfo("l", 8, 16, 64, False)
    rng = np.random.default_rng(0)
    edges = np.linspace(0, 4, 9, dtype=np.float32)
    Profile(layers=(info,), bin_edges=edges,
            colmax={"l": rng.random((3, 64)).astype(np.float32)},
            histogram={"l": np.zeros((3, edges.size + 1), dtype=np.int64)},
            meta={"model": "synthetic"},
            inputs=(CapturedInput("l", 0, rng.random((8, 16)).astype(np.float32)),),
            weights={"l": {"w1": rng.random((16, 64)).astype(np.float32),
                           "b1": np.zeros(64, np.float32),
                           "w2": rng.random((64, 16)).astype(np.float32),
                           "b2": np.zeros(16, np.float32)}},
            ).save(folder / "profile.h5")
    for name, dataset, index in (("nan-colmax.h5", "layers/0/colmax", (1, 3)),
                                 ("nan-input.h5", "inputs/0/0", (2, 5))):
        (folder / name).write_bytes((folder / "profile.h5").read_bytes())
        with h5py.File(folder / name, "r+") as f:
            values = f[dataset][()]
            values[index] = np.nan
            f[dataset][...] = values
    return folder


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_input_is_one_line_and_leaves_nothing(inputs, tmp_path, capsys, case) -> None:
    argv, fragment = CASES[case]
    out = tmp_path / "out"
    before = sorted(inputs.rglob("*"))
    code = main([arg.format(**{"in": inputs, "out": out}) for arg in argv])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("colsim: error: "), err
    assert fragment in lines[0]
    assert "Traceback" not in err
    assert not out.exists()
    assert sorted(inputs.rglob("*")) == before
