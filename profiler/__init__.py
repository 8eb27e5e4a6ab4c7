"""Column-level sparsity profiling of diffusion denoisers (DESIGN.md §1, contracts 2 and 3).

* :mod:`~colsim.profiler.capture`: hooks that see every FFN activation ``h``;
* :mod:`~colsim.profiler.recorder` / :mod:`~colsim.profiler.run`: reduce ``h`` on the fly
  into per-column maxima and element histograms per layer × iteration;
* :mod:`~colsim.profiler.profile`: the versioned HDF5 profile file;
* :mod:`~colsim.profiler.metrics` / :mod:`~colsim.profiler.report`: element and column
  sparsity, Jaccard, τ sweep (the thresholds, ρ calibration, threshold inflation and the
  mask sets derived from a profile or synthesised live in :mod:`colsim.masks`);
* :mod:`~colsim.profiler.masked` / :mod:`~colsim.profiler.quality`: masked reruns
  (FFN-Reuse or zeroing) and their offline quality gap.
"""
