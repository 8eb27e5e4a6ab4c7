"""Look up workloads by name and derive their specs at full or tiny size.

A full-size workload has two named operating points (DESIGN.md §1): ``public``, the public
model configuration derived per layer, and ``study``, the study's own Table 1 (for DiT-XL/2,
SD v1.4 and MLD the two are equal; each entry's ``StudyPoint.source`` says how its layers
follow from the Table). The tiny test size has one shape and no operating points.
"""

from __future__ import annotations

from colsim.errors import ColsimError
from colsim.models.catalog import WORKLOADS, Shape, Workload, family_of
from colsim.models.spec import WorkloadSpec

SIZES = ("tiny", "full")
OPERATING_POINTS = ("public", "study")


def workload_names() -> list[str]:
    """Return the names of every known workload, in catalog order."""
    return [w.name for w in WORKLOADS]


def study_workload_names() -> list[str]:
    """Return the names of the workloads that have a study operating point (Table 1)."""
    return [w.name for w in WORKLOADS if w.study is not None]


def get_entry(name: str) -> Workload:
    """Return the catalog entry ``name``; an unknown name is a ColsimError listing the known."""
    for workload in WORKLOADS:
        if workload.name == name:
            return workload
    known = ", ".join(workload_names())
    raise ColsimError(f"unknown model {name!r} (known models: {known})")


def shape_of(workload: Workload, size: str, shapes: str = "public") -> Shape:
    """Return the architecture of ``workload`` at ``size`` and operating point ``shapes``.

    ``size`` is "tiny" or "full"; ``shapes`` is "public" or "study" and applies to full
    size only: the study point of a workload without a Table 1 entry, or of the tiny size, is
    a ColsimError.
    """
    if size not in SIZES:
        raise ColsimError(f"`size` must be one of 'tiny', 'full', not {size!r}")
    if shapes not in OPERATING_POINTS:
        raise ColsimError(f"`shapes` must be one of 'public', 'study', not {shapes!r}")
    if shapes == "public":
        return workload.full if size == "full" else workload.tiny
    if size != "full":
        raise ColsimError("`shapes` 'study' is an operating point of the full size, not of "
                          f"size {size!r}")
    if workload.study is None:
        known = ", ".join(study_workload_names())
        raise ColsimError(f"workload {workload.name!r} has no study operating point (the "
                          f"study's workloads: {known})")
    return workload.study.shape or workload.full


def workload_spec(name: str, size: str = "full", shapes: str = "public") -> WorkloadSpec:
    """Return the spec of workload ``name`` at ``size`` and operating point ``shapes``."""
    workload = get_entry(name)
    shape = shape_of(workload, size, shapes)
    source = workload.source
    if size == "tiny" and shape != workload.full:
        source = f"tiny test configuration with the topology of: {source}"
    if shapes == "study":
        source = f"study operating point - {workload.study.source}; topology: {source}"
    return WorkloadSpec(
        name=workload.name,
        group=workload.group,
        modality=workload.modality,
        layers=family_of(shape).layers(shape),
        source=source,
        operating_point=shapes,
    )


def get_workload(name: str) -> WorkloadSpec:
    """Return the full-size spec of workload ``name``."""
    return workload_spec(name, "full")
