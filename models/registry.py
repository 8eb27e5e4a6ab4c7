"""Look up workloads by name and derive their specs at full or tiny size."""

from __future__ import annotations

from colsim.errors import ColsimError
from colsim.models.catalog import WORKLOADS, Shape, Workload, family_of
from colsim.models.spec import WorkloadSpec

SIZES = ("tiny", "full")


def workload_names() -> list[str]:
    """Return the names of every known workload, in catalog order."""
    return [w.name for w in WORKLOADS]


def get_entry(name: str) -> Workload:
    """Return the catalog entry ``name``; an unknown name is a ColsimError listing the known."""
    for workload in WORKLOADS:
        if workload.name == name:
            return workload
    known = ", ".join(workload_names())
    raise ColsimError(f"unknown model {name!r} (known models: {known})")


def shape_of(workload: Workload, size: str) -> Shape:
    """Return the architecture of ``workload`` at ``size`` ("tiny" or "full")."""
    if size not in SIZES:
        raise ColsimError(f"`size` must be one of 'tiny', 'full', not {size!r}")
    return workload.full if size == "full" else workload.tiny


def workload_spec(name: str, size: str = "full") -> WorkloadSpec:
    """Return the spec of workload ``name`` at ``size``."""
    workload = get_entry(name)
    shape = shape_of(workload, size)
    source = workload.source
    if size == "tiny" and shape != workload.full:
        source = f"tiny test configuration with the topology of: {source}"
    return WorkloadSpec(
        name=workload.name,
        group=workload.group,
        modality=workload.modality,
        layers=family_of(shape).layers(shape),
        source=source,
    )


def get_workload(name: str) -> WorkloadSpec:
    """Return the full-size spec of workload ``name``."""
    return workload_spec(name, "full")
