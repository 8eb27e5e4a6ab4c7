"""Every cycle of sample layer-iterations, pinned: the compiled loop may get faster, never move.

The digests below hash each case's whole timeline (:class:`~colsim.sim.fast.cosim.Timeline`:
the result vector, every op's start, end and last step, every transfer's issue and
completion, every transaction's acceptance and completion, in DRAM and core cycles) and the
DRAM kernel's counters after it. They were recorded before the co-simulation loop was
reworked for speed (completions in queues kept in answer order and visited only when their
answer gates something, the front end's remapper skipping its held spans, addresses counted
up, one kernel cycle per visit); ``test_fast.py`` checks the loop against the step-by-step
executor on other cases. A change that moves one cycle fails here with the case's name; if a
timing rule changes on purpose, print the new digests (``timeline_digest``) and say why in
the commit.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from colsim.config import reference_hardware
from colsim.models.registry import workload_spec
from colsim.sim.dram import load_dram_config
from colsim.sim.fast import cosim
from colsim.sim.fast.run import MemorySystem, run_schedule
from colsim.sim.layout import dynamic_layout, hotcold_layout, rowmajor_layout
from colsim.sim.schedule import build_schedule, plan_placement

HW = reference_hardware()
CONFIGS = {
    "reference": (HW, HW.dram_config),
    "refresh-off": (HW, load_dram_config("gddr6", controller={"refresh": "off"})),
    "one-request": (HW.with_overrides({"dma": {"requests_in_flight": 1}}), HW.dram_config),
    "three-requests": (HW.with_overrides({"dma": {"requests_in_flight": 3}}), HW.dram_config),
    "two-channels": (HW.with_overrides({"dma": {"channels": 2}}), HW.dram_config),
}
MODES = ("dense", "dense-reuse", "sparse-rowmajor", "sparse-hotcold", "sparse-dynamic")
FIELDS = ("acc", "op_start", "op_end", "op_last", "tr_issue", "tr_done", "tx_accept", "tx_done")

# (configuration, model, layer) -> one digest per mode, in MODES order.
DIGESTS = {
    ('reference', 'mld', 'full', 0): (
        '9524a02c11ea27e7', '57001fb8626d0ec2', '3af5ca1a5bb4caf9',
        'ce828cba6e09ff57', '5550a4f8d061679f'),
    ('refresh-off', 'mld', 'full', 0): (
        '6e2c5769dac2deff', '1fdebbe4a91c7a28', 'd90ac672f691d438',
        '4deb8187ef691d9f', '5ad3565b00601d09'),
    ('one-request', 'mld', 'full', 0): (
        'bf62a4c3e267ea62', 'eac2721fe9415683', 'c956557911957f5a',
        '28d9960205d074e5', 'beb59cfb807c41da'),
    ('three-requests', 'mld', 'full', 0): (
        'c21b72380deb6ad2', 'ac34a51d8e0018d0', 'b38efffc54fd2431',
        '97502e8f2cfe1bc4', '9d0a45942203ce11'),
    ('two-channels', 'mld', 'full', 0): (
        '4b4a45280e3a5a2d', 'ea401d73fb297c3d', 'd3a089e3884ae30c',
        '3caf123d84b452bb', '15c3d8bb03a430e8'),
    ('reference', 'tiny-dit', 'tiny', 0): (
        '57b7791b773e8e52', '0c083198957a3255', '0419c50ebbe18287',
        'dfbcc9ea805ea089', '1dba2be892ede227'),
    ('refresh-off', 'tiny-dit', 'tiny', 0): (
        '192fb891c27f526a', '35ff6dfbf215fe0a', '0419c50ebbe18287',
        'dfbcc9ea805ea089', '1dba2be892ede227'),
    ('one-request', 'tiny-dit', 'tiny', 0): (
        'f88a81877965b123', '5e206a7541f886ee', 'bd6e047380706d3e',
        '480836770ccc8ba8', '3dd10456d23f61ee'),
    ('three-requests', 'tiny-dit', 'tiny', 0): (
        'a4354382509a63b7', '42b7082637eb2984', 'c0d55864f6389e99',
        '2dc55193196b65bf', 'a8f2db2a4f586976'),
    ('two-channels', 'tiny-dit', 'tiny', 0): (
        'd37030909d584edc', 'e6ad12129a9f83cb', 'bd16ddca862c7b4d',
        '96ce2a3a9c75ca1b', '25cf0b640369f707'),
    ('reference', 'make-an-audio', 'full', 0): (
        'fce7dad25a0bf344', '3d59c3cce0f2572a', 'd0c186268c32b7d6',
        '56f4f512cee54fcc', 'dd6dfa7ab9f101b0'),
    ('refresh-off', 'make-an-audio', 'full', 2): (
        'f275a7b501d53d89', '0cfca0a14735e9d0', '03faedbcaafdf05b',
        'fe68f918aa57c6ba', '759b747c01778d1b'),
}


def schedules(model: str, size: str, index: int, hw):
    """Yield the schedules of layer ``index`` of ``model`` in the modes of MODES, with seeded
    masks (30 % hot; the dynamic layout after 5 % of the columns changed)."""
    layer = workload_spec(model, size, "public").layers[index]
    placement = plan_placement(layer, hw, transaction_bytes=hw.dram_config.organization
                               .transaction_bytes)
    rng = np.random.default_rng(1)
    n = layer.hidden
    hot = rng.random(n) < 0.3
    changed = hot ^ (rng.random(n) < 0.05)
    for kind, mask, layout in zip(("dense", "dense", "sparse", "sparse", "sparse"),
                                  (None, hot, hot, hot, changed),
                                  (rowmajor_layout(n), rowmajor_layout(n), rowmajor_layout(n),
                                   hotcold_layout(hot),
                                   dynamic_layout(dynamic_layout(None, hot), changed)),
                                  strict=True):
        yield build_schedule(layer, hw, mask, layout, placement, mode=kind)


def timeline_digest(arrays: dict[str, np.ndarray]) -> str:
    """Return the SHA-256 (16 hex digits) of a timeline's FIELDS and the kernel counters ``g``."""
    digest = hashlib.sha256()
    for name in (*FIELDS, "g"):
        digest.update(name.encode() + np.ascontiguousarray(arrays[name], np.int64).tobytes())
    return digest.hexdigest()[:16]


@pytest.mark.parametrize(("config", "model", "size", "index"), list(DIGESTS))
def test_timelines_are_the_pinned_ones(config, model, size, index, monkeypatch) -> None:
    hw, dram = CONFIGS[config]
    timelines = []
    simulate = cosim.cosimulate

    def recorded(*args):
        timelines.append(simulate(*args))
        return timelines[-1]

    monkeypatch.setattr(cosim, "cosimulate", recorded)
    got = []
    for schedule in schedules(model, size, index, hw):
        memory = MemorySystem(dram)
        run_schedule(schedule, hw, memory)
        timeline = timelines[-1]
        got.append(timeline_digest({**{f: getattr(timeline, f) for f in FIELDS},
                                    "g": memory.state.g}))
    assert dict(zip(MODES, got, strict=True)) == dict(
        zip(MODES, DIGESTS[config, model, size, index], strict=True))
