"""Workloads: FFN specs of the studied diffusion models, their denoisers, and the tiny models.

* ``spec`` — :class:`FfnLayer` / :class:`WorkloadSpec` (contract 1);
* ``registry`` — ``workload_names()``, ``get_workload(name)``, ``workload_spec(name, size)``;
* ``catalog`` — the public architecture of each workload and where its figures come from;
* ``shapes`` — per-family architecture shapes and FFN layer derivation (no torch, no diffusers);
* ``dit``, ``unet``, ``motion`` — per-family module builders and adapters (re-export the shapes);
* ``driver`` — ``build_denoiser`` and ``run_denoising`` (DDIM/DDPM, classifier-free guidance);
* ``weights`` — safetensors / diffusers-folder loading; ``datasets`` and ``training`` — the
  trained tiny models (``tiny_dit.safetensors``, ``tiny_motion.safetensors``).
"""
