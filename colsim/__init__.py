"""colsim: co-simulation toolkit for column-sparse diffusion-model accelerators."""

__version__ = "0.1.0"
