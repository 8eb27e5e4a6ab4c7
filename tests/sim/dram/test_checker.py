"""The protocol checker flags every kind of injected violation in a valid command log."""

from __future__ import annotations

import numpy as np
import pytest

from colsim.sim.dram import DramEngine, load_dram_config
from colsim.sim.dram.checker import check_protocol
from colsim.sim.dram.commands import ACT, PRE, PREA, RD, REFAB, WR
from colsim.sim.dram.streams import request_stream

CONFIG = load_dram_config(organization={"channels": 1})
T = CONFIG.timing


@pytest.fixture(scope="module")
def valid_log() -> np.ndarray:
    engine = DramEngine(CONFIG, record_commands=True)
    engine.run(*request_stream(CONFIG, "hot-rows", 3000, seed=5, write_share=0.4, burst=50,
                               idle_gap=1500))
    log = engine.command_log
    assert check_protocol(CONFIG, log) == []
    assert {ACT, PRE, RD, WR, PREA, REFAB} <= set(log[:, 2].tolist())
    return log


def first(log, command, after=0):
    return next(i for i in range(after, len(log)) if log[i, 2] == command)


def test_read_too_soon_after_activate(valid_log):
    log = valid_log.copy()
    i = next(i for i in range(len(log)) if log[i, 2] == RD
             and log[i, 0] - log[first(log, ACT), 0] == T.rcd_rd)
    log[i:, 0] -= 1  # shift the RD (and everything after it) one cycle earlier
    assert any("ACT -> RD (tRCD_RD)" in v for v in check_protocol(CONFIG, log))


def test_read_to_a_closed_bank(valid_log):
    log = np.delete(valid_log, first(valid_log, ACT), axis=0)
    assert any("RD to a closed bank" in v or "WR to a closed bank" in v
               for v in check_protocol(CONFIG, log))


def test_activate_to_an_open_bank_and_wrong_row(valid_log):
    log = valid_log.copy()
    i = first(log, PRE)
    log = np.delete(log, i, axis=0)
    violations = check_protocol(CONFIG, log)
    assert any("ACT to a bank that is already open" in v for v in violations)
    log = valid_log.copy()
    i = first(log, RD)
    log[i, 4] += 1
    assert any("but row" in v for v in check_protocol(CONFIG, log))


def test_two_commands_in_one_cycle(valid_log):
    log = valid_log.copy()
    log[1, 0] = log[0, 0]
    assert any("second command on the channel" in v for v in check_protocol(CONFIG, log))


def test_five_activates_within_tfaw():
    log = np.array([[c, 0, ACT, bank, 0] for bank, c in
                    zip([0, 4, 8, 12, 1], [0, 5, 10, 15, 20], strict=True)])
    violations = check_protocol(CONFIG, log)
    assert violations == [f"cycle 20 channel 0 ACT bank 1: five ACTs within tFAW requires "
                          f"cycle >= {T.faw}"]


def test_precharge_before_tras_and_refresh_with_open_bank():
    log = np.array([[0, 0, ACT, 0, 7], [T.ras - 1, 0, PRE, 0, -1]])
    assert any("(tRAS)" in v for v in check_protocol(CONFIG, log))
    log = np.array([[0, 0, ACT, 0, 7], [200, 0, REFAB, -1, -1]])
    assert any("REFab while a bank is open" in v for v in check_protocol(CONFIG, log))


def test_command_during_refresh(valid_log):
    log = valid_log.copy()
    i = first(log, REFAB)
    j = i + 1
    log[j:, 0] -= log[j, 0] - log[i, 0] - 1  # next command right after REFab
    assert any("REFab -> any (tRFC)" in v for v in check_protocol(CONFIG, log))


def test_write_to_read_and_read_to_write_turnarounds():
    log = np.array([[0, 0, ACT, 0, 1], [T.rcd_wr, 0, WR, 0, 1], [T.rcd_wr + 5, 0, RD, 0, 1]])
    assert any("WR -> RD" in v for v in check_protocol(CONFIG, log))
    log = np.array([[0, 0, ACT, 0, 1], [T.rcd_rd, 0, RD, 0, 1], [T.rcd_rd + 5, 0, WR, 0, 1]])
    assert any("RD -> WR turnaround" in v for v in check_protocol(CONFIG, log))
