"""Configuration: frozen, validated dataclasses loaded from TOML.

``loader`` turns nested TOML tables into frozen dataclasses with strict checking (unknown
keys, wrong types and out-of-range values are errors naming the dotted key);
``hardware`` defines the accelerator configuration whose defaults are the reference hardware
of DESIGN.md (``reference.toml``).
"""

from colsim.config.hardware import (
    ClockConfig,
    HardwareConfig,
    LayerLimits,
    SimdConfig,
    SramBuffer,
    SramConfig,
    SystolicConfig,
    load_hardware_config,
    reference_hardware,
)
from colsim.config.loader import from_mapping, load_toml, non_negative, positive

__all__ = [
    "ClockConfig",
    "HardwareConfig",
    "LayerLimits",
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
]
