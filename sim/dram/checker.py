"""Protocol checker: replay an issued command log against DESIGN.md §2, independently.

It shares nothing with the scheduler but the command codes: it keeps its own bank states and
last-issue times and spells every rule out directly, so a scheduler bug cannot hide in a
shared table. Each violation is one line naming the command, its cycle and the rule.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from colsim.sim.dram.commands import ACT, COMMAND_NAMES, PRE, PREA, RD, REFAB, REFPB, WR
from colsim.sim.dram.config import DramConfig

NEVER = -(10**15)


class _Channel:
    """Everything the checker remembers about one channel."""

    def __init__(self, banks: int, bankgroups: int) -> None:
        self.open_row = [-1] * banks
        self.last_cycle = NEVER
        self.bank_act = [NEVER] * banks
        self.bank_pre = [NEVER] * banks
        self.bank_rd = [NEVER] * banks
        self.bank_wr = [NEVER] * banks
        self.bank_refpb = [NEVER] * banks
        self.group_act = [NEVER] * bankgroups
        self.group_rd = [NEVER] * bankgroups
        self.group_wr = [NEVER] * bankgroups
        self.act = self.rd = self.wr = self.prea = self.any_pre = NEVER
        self.refab = self.refpb = NEVER
        self.recent_acts: deque[int] = deque(maxlen=4)


def check_protocol(config: DramConfig, log: np.ndarray) -> list[str]:
    """Return every timing or state violation in ``log`` (rows: cycle, channel, cmd, bank, row).

    The log must list commands in issue order per channel. An empty list means the log obeys
    every rule.
    """
    t, org = config.timing, config.organization
    channels = [_Channel(org.banks, org.bankgroups) for _ in range(org.channels)]
    violations: list[str] = []
    for cycle, ch, cmd, bank, row in np.asarray(log, dtype=np.int64).tolist():
        s = channels[ch]
        name = COMMAND_NAMES[cmd]
        where = f"cycle {cycle} channel {ch} {name}" + (f" bank {bank}" if bank >= 0 else "")

        def need(earliest: int, rule: str, where: str = where, cycle: int = cycle) -> None:
            if cycle < earliest:
                violations.append(f"{where}: {rule} requires cycle >= {earliest}")

        def state(ok: bool, rule: str, where: str = where) -> None:
            if not ok:
                violations.append(f"{where}: {rule}")

        state(cycle > s.last_cycle, "second command on the channel in one cycle (or out of order)")
        need(s.refab + t.rfc, "REFab -> any (tRFC)")
        group = bank // org.banks_per_group if bank >= 0 else -1
        if cmd == ACT:
            state(s.open_row[bank] < 0, "ACT to a bank that is already open")
            need(s.bank_pre[bank] + t.rp, "PRE -> ACT (tRP)")
            need(s.prea + t.rp, "PREA -> ACT (tRP)")
            need(s.bank_act[bank] + t.rc, "ACT -> ACT same bank (tRC)")
            need(s.act + t.rrd_s, "ACT -> ACT (tRRD_S)")
            need(s.group_act[group] + t.rrd_l, "ACT -> ACT same bank group (tRRD_L)")
            if len(s.recent_acts) == 4:
                need(s.recent_acts[0] + t.faw, "five ACTs within tFAW")
            need(s.bank_refpb[bank] + t.rfc_pb, "REFpb -> ACT same bank (tRFCpb)")
            need(s.refpb + t.rrefd, "REFpb -> ACT (tRREFD)")
            s.open_row[bank] = row
            s.bank_act[bank] = s.group_act[group] = s.act = cycle
            s.recent_acts.append(cycle)
        elif cmd in (RD, WR):
            if s.open_row[bank] < 0:
                state(False, f"{name} to a closed bank")
            else:
                state(s.open_row[bank] == row, f"{name} to row {row} but row "
                      f"{s.open_row[bank]} is open")
            burst_gap = max(t.bl, t.ccd_s)
            if cmd == RD:
                need(s.bank_act[bank] + t.rcd_rd, "ACT -> RD (tRCD_RD)")
                need(s.rd + burst_gap, "RD -> RD (max(nBL, tCCD_S))")
                need(s.group_rd[group] + t.ccd_l, "RD -> RD same bank group (tCCD_L)")
                need(s.wr + t.cwl + t.bl + t.wtr_s, "WR -> RD (CWL + nBL + tWTR_S)")
                need(s.group_wr[group] + t.cwl + t.bl + t.wtr_l,
                     "WR -> RD same bank group (CWL + nBL + tWTR_L)")
                s.bank_rd[bank] = s.group_rd[group] = s.rd = cycle
            else:
                need(s.bank_act[bank] + t.rcd_wr, "ACT -> WR (tRCD_WR)")
                need(s.wr + burst_gap, "WR -> WR (max(nBL, tCCD_S))")
                need(s.group_wr[group] + t.ccd_l, "WR -> WR same bank group (tCCD_L)")
                need(s.rd + t.rtw, "RD -> WR turnaround (tRTW)")
                s.bank_wr[bank] = s.group_wr[group] = s.wr = cycle
        elif cmd in (PRE, PREA):
            targets = [bank] if cmd == PRE else [b for b in range(org.banks) if s.open_row[b] >= 0]
            state(cmd == PREA or s.open_row[bank] >= 0, "PRE to a closed bank")
            for b in targets:
                need(s.bank_act[b] + t.ras, f"ACT -> PRE bank {b} (tRAS)")
                need(s.bank_rd[b] + t.rtp, f"RD -> PRE bank {b} (tRTP)")
                need(s.bank_wr[b] + t.cwl + t.bl + t.wr, f"WR -> PRE bank {b} (CWL + nBL + tWR)")
                s.open_row[b] = -1
                s.bank_pre[b] = cycle
            s.any_pre = cycle
            if cmd == PREA:
                s.prea = cycle
        elif cmd == REFAB:
            state(all(r < 0 for r in s.open_row), "REFab while a bank is open")
            need(s.any_pre + t.rp, "PRE -> REFab (tRP)")
            need(s.act + t.rc, "ACT -> REFab (tRC)")
            s.refab = cycle
        elif cmd == REFPB:
            state(s.open_row[bank] < 0, "REFpb to an open bank")
            need(s.bank_pre[bank] + t.rp, "PRE -> REFpb (tRP)")
            need(s.prea + t.rp, "PREA -> REFpb (tRP)")
            need(s.bank_act[bank] + t.rc, "ACT -> REFpb same bank (tRC)")
            need(s.act + t.rrd_l, "ACT -> REFpb (tRRD_L)")
            s.bank_refpb[bank] = s.refpb = cycle
        else:
            state(False, f"unknown command code {cmd}")
        s.last_cycle = cycle
    return violations
