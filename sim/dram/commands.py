"""DRAM commands and the timing-constraint table the scheduler enforces.

A constraint ``(level, preceding, following, latency)`` says: after ``preceding`` is issued
to a node of ``level`` (the channel, one bank group, or one bank), ``following`` may not be
issued to that same node for ``latency`` cycles. The four-activate window (tFAW) is the one
rolling-window rule and is handled by the scheduler directly. Channel-wide commands (PREA,
REFab) only carry channel-level constraints; PREA additionally waits for every open bank's
own PRE constraints.
"""

from __future__ import annotations

import numpy as np

from colsim.sim.dram.config import DramTiming

ACT, PRE, PREA, RD, WR, REFAB, REFPB = range(7)
COMMAND_NAMES = ("ACT", "PRE", "PREA", "RD", "WR", "REFab", "REFpb")
CHANNEL, BANKGROUP, BANK = range(3)


def timing_constraints(t: DramTiming) -> list[tuple[int, int, int, int]]:
    """Return every ``(level, preceding, following, latency)`` rule of DESIGN.md §2."""
    write_to_read_s = t.cwl + t.bl + t.wtr_s
    write_to_read_l = t.cwl + t.bl + t.wtr_l
    write_recovery = t.cwl + t.bl + t.wr
    rules = [
        # Channel: data bus, CAS-to-CAS, turnarounds, activates, refresh.
        (CHANNEL, RD, RD, max(t.bl, t.ccd_s)),
        (CHANNEL, WR, WR, max(t.bl, t.ccd_s)),
        (CHANNEL, RD, WR, t.rtw),
        (CHANNEL, WR, RD, write_to_read_s),
        (CHANNEL, ACT, ACT, t.rrd_s),
        (CHANNEL, PREA, ACT, t.rp),
        (CHANNEL, ACT, REFAB, t.rc),
        (CHANNEL, PRE, REFAB, t.rp),
        (CHANNEL, PREA, REFAB, t.rp),
        (CHANNEL, ACT, REFPB, t.rrd_l),
        (CHANNEL, PREA, REFPB, t.rp),
        (CHANNEL, REFPB, ACT, t.rrefd),
        # Bank group.
        (BANKGROUP, RD, RD, t.ccd_l),
        (BANKGROUP, WR, WR, t.ccd_l),
        (BANKGROUP, WR, RD, write_to_read_l),
        (BANKGROUP, ACT, ACT, t.rrd_l),
        # Bank.
        (BANK, ACT, RD, t.rcd_rd),
        (BANK, ACT, WR, t.rcd_wr),
        (BANK, ACT, PRE, t.ras),
        (BANK, ACT, ACT, t.rc),
        (BANK, PRE, ACT, t.rp),
        (BANK, RD, PRE, t.rtp),
        (BANK, WR, PRE, write_recovery),
        (BANK, ACT, REFPB, t.rc),
        (BANK, PRE, REFPB, t.rp),
        (BANK, REFPB, ACT, t.rfc_pb),
    ]
    # REFab blocks every command of the channel for tRFC.
    rules += [(CHANNEL, REFAB, following, t.rfc) for following in (ACT, PRE, PREA, REFAB, REFPB)]
    if t.channel_wide_ras_rp:
        rules += [(CHANNEL, ACT, PRE, t.ras), (CHANNEL, PRE, ACT, t.rp)]
    return rules


def constraint_table(t: DramTiming) -> tuple[np.ndarray, np.ndarray]:
    """Return the rules grouped by preceding command for the compiled scheduler.

    ``table[cmd, k] = (level, following, latency)`` for ``k < counts[cmd]``.
    """
    rules = timing_constraints(t)
    counts = np.zeros(len(COMMAND_NAMES), dtype=np.int64)
    for _level, preceding, _following, _latency in rules:
        counts[preceding] += 1
    table = np.zeros((len(COMMAND_NAMES), int(counts.max()), 3), dtype=np.int64)
    filled = np.zeros_like(counts)
    for level, preceding, following, latency in rules:
        table[preceding, filled[preceding]] = (level, following, latency)
        filled[preceding] += 1
    return table, counts
