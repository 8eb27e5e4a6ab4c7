"""Configuration: frozen, validated dataclasses loaded from TOML.

``loader`` turns nested TOML tables into frozen dataclasses with strict checking (unknown
keys, wrong types and out-of-range values are errors naming the dotted key);
``hardware`` defines the accelerator configuration whose defaults are the reference hardware
of DESIGN.md (``reference.toml``), resolves the DRAM configuration it selects once, and
offers the tiny test configuration (``tiny.toml``).
"""

from colsim.config.hardware import (
    ClockConfig,
    DmaConfig,
    HardwareConfig,
    LayerLimits,
    SequencerConfig,
    SimdConfig,
    SramBuffer,
    SramConfig,
    SystolicConfig,
    load_hardware_config,
    reference_hardware,
    tiny_array_hardware,
    tiny_hardware,
)
from colsim.config.loader import from_mapping, load_toml, non_negative, positive

__all__ = [
    "ClockConfig",
    "DmaConfig",
    "HardwareConfig",
    "LayerLimits",
    "SequencerConfig",
    "SimdConfig",
    "SramBuffer",
    "SramConfig",
    "SystolicConfig",
    "from_mapping",
    "load_hardware_config",
    "load_toml",
    "non_negative",
    "positive",
    "reference_hardware",
    "tiny_array_hardware",
    "tiny_hardware",
]
