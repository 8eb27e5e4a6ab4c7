"""Packaged DRAM presets: one TOML file per standard (``gddr6.toml``, ``hbm2.toml``)."""
