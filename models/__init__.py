"""Workloads: FFN specs of the studied diffusion models, their denoisers, and the tiny models.

* ``spec`` — :class:`FfnLayer` / :class:`WorkloadSpec` (contract 1);
* ``registry`` — ``workload_names()``, ``get_workload(name)``, ``workload_spec(name, size)``;
* ``catalog`` — the public architecture of each workload and where its figures come from;
* ``dit``, ``unet``, ``motion`` — per-family shapes, FFN layer derivation, module builders;
* ``driver`` — ``build_denoiser`` and ``run_denoising`` (DDIM/DDPM, classifier-free guidance);
* ``weights`` — safetensors / diffusers-folder loading; ``datasets`` and ``training`` — the
  trained tiny models (``tiny_dit.safetensors``, ``tiny_motion.safetensors``).
"""
