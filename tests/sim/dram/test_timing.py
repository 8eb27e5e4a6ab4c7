"""Hand-worked cases: exact issue and completion cycles from the timing table."""

from __future__ import annotations

import numpy as np

from colsim.sim.dram import DramEngine, load_dram_config
from colsim.sim.dram.commands import ACT, PRE, PREA, RD, REFAB, WR
from colsim.sim.dram.mapping import encode_array

NO_REFRESH = load_dram_config(controller={"refresh": "off"})
T = NO_REFRESH.timing


def addr_of(config, channel=0, group=0, bank=0, row=0, column=0) -> int:
    return int(encode_array(config, [[channel, group, bank, row, column]])[0])


def run(config, requests):
    """Simulate ``[(addr, is_write, arrival), ...]``; return completions, log and stats."""
    addr = np.array([r[0] for r in requests], dtype=np.uint64)
    is_write = np.array([r[1] for r in requests], dtype=bool)
    arrival = np.array([r[2] for r in requests], dtype=np.int64)
    engine = DramEngine(config, record_commands=True)
    completion = engine.run(addr, is_write, arrival)
    return completion.tolist(), engine.command_log.tolist(), engine.stats()


def test_first_read_to_a_closed_bank():
    done, log, stats = run(NO_REFRESH, [(0, False, 0)])
    assert done == [T.rcd_rd + T.cl + T.bl] == [58]
    assert [row[2] for row in log] == [ACT, RD]
    assert (stats.row_misses, stats.row_hits, stats.avg_read_latency) == (1, 0, 58.0)
    assert stats.cycles == 59


def test_first_write_completes_when_issued():
    done, log, _ = run(NO_REFRESH, [(0, True, 0)])
    assert done == [T.rcd_wr]
    assert [row[:3] for row in log] == [[0, 0, ACT], [T.rcd_wr, 0, WR]]


def test_a_later_row_conflict_adds_trp_plus_trcd_to_a_hit():
    other_row = addr_of(NO_REFRESH, row=1)
    hit = addr_of(NO_REFRESH, column=5)
    done, _, stats = run(NO_REFRESH, [(0, False, 0), (other_row, False, 1000), (0, False, 2000),
                                      (hit, False, 3000)])
    conflict_latency = done[1] - 1000
    miss_latency = done[2] - 2000  # row 1 is open again: another conflict
    hit_latency = done[3] - 3000
    assert hit_latency == T.cl + T.bl
    assert conflict_latency == miss_latency == T.rp + T.rcd_rd + T.cl + T.bl
    assert conflict_latency - hit_latency == T.rp + T.rcd_rd
    assert (stats.row_misses, stats.row_conflicts, stats.row_hits) == (1, 2, 1)


def test_conflict_right_after_activation_waits_for_tras():
    done, log, _ = run(NO_REFRESH, [(0, False, 0), (addr_of(NO_REFRESH, row=1), False, 0)])
    pre = next(row[0] for row in log if row[2] == PRE)
    assert pre == T.ras
    assert done == [58, T.ras + T.rp + T.rcd_rd + T.cl + T.bl]


def test_back_to_back_hits_are_spaced_by_the_burst():
    same_group = [(addr_of(NO_REFRESH, column=c), False, 0) for c in range(4)]
    done, _, _ = run(NO_REFRESH, same_group)
    gap = max(T.bl, T.ccd_l, T.ccd_s)
    assert np.diff(done).tolist() == [gap] * 3


def test_hbm2_hits_use_tccd_l_within_and_tccd_s_across_bank_groups():
    hbm2 = load_dram_config("hbm2", controller={"refresh": "off"})
    t = hbm2.timing
    within = [(addr_of(hbm2, column=c), False, 0) for c in range(3)]
    done, _, _ = run(hbm2, within)
    assert np.diff(done).tolist() == [t.ccd_l, t.ccd_l]
    # Two open rows in different bank groups, then alternate hits between them.
    warm = [(addr_of(hbm2, group=0), False, 0), (addr_of(hbm2, group=1), False, 0)]
    alternating = [(addr_of(hbm2, group=g % 2, column=1 + g // 2), False, 200) for g in range(4)]
    done, _, _ = run(hbm2, warm + alternating)
    assert np.diff(done[2:]).tolist() == [max(t.ccd_s, t.bl)] * 3


def test_four_activate_window():
    banks = [(0, 0), (1, 0), (2, 0), (3, 0), (0, 1)]
    requests = [(addr_of(NO_REFRESH, group=g, bank=b), False, 0) for g, b in banks]
    _, log, _ = run(NO_REFRESH, requests)
    acts = [row[0] for row in log if row[2] == ACT]
    assert acts[:4] == [0, T.rrd_s, 2 * T.rrd_s, 3 * T.rrd_s]
    assert acts[4] == max(acts[0] + T.faw, acts[3] + T.rrd_s)  # tFAW binds: 28


def test_read_write_turnarounds():
    a, b = addr_of(NO_REFRESH, column=0), addr_of(NO_REFRESH, column=1)
    _, log, _ = run(NO_REFRESH, [(a, False, 0), (b, True, 100)])
    rd, wr = (row[0] for row in log if row[2] in (RD, WR))
    assert wr == 100  # long after the read: no wait
    _, log, _ = run(NO_REFRESH, [(a, False, 0), (b, True, 27)])
    rd, wr = (row[0] for row in log if row[2] in (RD, WR))
    assert wr - rd == T.rtw
    _, log, _ = run(NO_REFRESH, [(a, True, 0), (b, False, 17)])
    wr, rd = (row[0] for row in log if row[2] in (RD, WR))
    assert rd - wr == T.cwl + T.bl + T.wtr_l  # same bank group


def test_refresh_blocks_for_trfc_and_closes_rows():
    config = load_dram_config()
    t = config.timing
    # An idle channel refreshes at tREFI; a read arriving then waits tRFC, then misses.
    done, log, stats = run(config, [(0, False, t.refi)])
    log = [row for row in log if row[1] == 0]  # channel 0 (every channel refreshes)
    assert [row[2] for row in log] == [REFAB, ACT, RD]
    assert done == [t.refi + t.rfc + t.rcd_rd + t.cl + t.bl]
    assert stats.refreshes == config.organization.channels
    # With a row open, the refresh first precharges all banks (PREA), tRP before REFab.
    done, log, stats = run(config, [(0, False, 0), (0, False, t.refi)])
    log = [row for row in log if row[1] == 0]
    assert [row[2] for row in log] == [ACT, RD, PREA, REFAB, ACT, RD]
    assert [row[0] for row in log][2:4] == [t.refi, t.refi + t.rp]
    assert done[1] == t.refi + t.rp + t.rfc + t.rcd_rd + t.cl + t.bl
    assert (stats.row_misses, stats.row_hits) == (2, 0)


def test_per_bank_refresh_only_blocks_its_bank():
    config = load_dram_config(controller={"refresh": "per-bank"})
    t = config.timing
    interval = t.refi // config.organization.banks
    # Bank 0 refreshes first (at one interval): another bank only waits tRREFD ...
    other_bank = addr_of(config, bank=1)
    done, _, _ = run(config, [(other_bank, False, interval)])
    assert done == [interval + t.rrefd + t.rcd_rd + t.cl + t.bl]
    # ... while the refreshed bank waits the whole per-bank refresh cycle.
    done, _, _ = run(config, [(0, False, interval)])
    assert done == [interval + t.rfc_pb + t.rcd_rd + t.cl + t.bl]


def test_channel_wide_ras_rp_switch_reproduces_ramulator2_rule():
    # Bank 0 row 0 opens; a conflict on bank 0 precharges it; meanwhile bank 1 wants an ACT.
    requests = [(0, False, 0), (addr_of(NO_REFRESH, row=1), False, 0),
                (addr_of(NO_REFRESH, group=1), False, 60)]
    _, log, _ = run(NO_REFRESH, requests)
    pre = next(row[0] for row in log if row[2] == PRE)
    act_bank4 = next(row[0] for row in log if row[2] == ACT and row[3] == 4)
    assert act_bank4 < pre + T.rp  # per bank (JEDEC, DESIGN §2): other banks are not held
    compat = load_dram_config(controller={"refresh": "off"}, timing={"channel_wide_ras_rp": True})
    _, log, _ = run(compat, requests)
    pre = next(row[0] for row in log if row[2] == PRE)
    act_bank4 = next(row[0] for row in log if row[2] == ACT and row[3] == 4)
    assert act_bank4 >= pre + T.rp
