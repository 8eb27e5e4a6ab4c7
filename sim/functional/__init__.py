"""Functional (data) model of the FFN engine: fixed-point reference, DRAM images, executor.

:mod:`~colsim.sim.functional.fixed_point` is the numpy reference of what the engine computes
(DESIGN.md contract 8); :mod:`~colsim.sim.functional.image` writes a layer's operands into a
DRAM backing store where the placement puts them and reads results back;
:mod:`~colsim.sim.functional.executor` runs a schedule's ops on those bytes;
:mod:`~colsim.sim.functional.checks` checks one iteration's results against the reference and
against torch (for the executor and the RTL co-simulation alike), and
:mod:`~colsim.sim.functional.verify` runs FFN-Reuse iterations through the executor and
checks them.
"""
