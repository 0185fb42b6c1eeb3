"""What a result was computed with: versions, git revision, hardware, and the CPUs it may use."""
from __future__ import annotations

import functools
import importlib.metadata
import math
import os
import platform
import subprocess
from pathlib import Path

_PACKAGES = ("benchsuite", "torch", "torchvision", "timm", "segmentation-models-pytorch", "numpy", "pandas", "pluggy")


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git_revision(here: Path | None = None) -> str | None:
    """The commit the running code is from, with "-dirty" when its tracked files had changes not committed:
    a result must not name a commit whose code it did not run."""
    here = here or Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=here, capture_output=True, text=True, timeout=5, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip()

    head = git("rev-parse", "HEAD")
    if not head:
        return None
    changes = git("status", "--porcelain", "--untracked-files=no")
    return head if changes == "" else f"{head}-dirty"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.cache
def describe() -> dict:
    import torch

    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return {
        "packages": {name: _version(name) for name in _PACKAGES},
        "python": platform.python_version(),
        "git_revision": _git_revision(),
        "hardware": {
            "platform": platform.platform(),
            "cpu": _cpu_model(),
            "cpu_count": os.cpu_count(),
            "gpus": gpus,
        },
    }


# --- how many CPUs this process may keep busy ------------------------------------------------------------


def cpu_limits(environ=None, cgroup_root: Path = Path("/sys/fs/cgroup"), membership: str | None = None) -> dict:
    """Each limit on the CPUs this process may use, by who sets it (None: no limit from there).

    ``slurm``: the job's ``SLURM_CPUS_PER_TASK`` (Slurm need not pin a job to its cores); ``affinity``: the
    cores the process may run on (``taskset``, a cpuset, a pinning scheduler); ``cgroup``: the CPU quota of
    its control group, rounded up (a container's ``--cpus``); ``omp``: ``OMP_NUM_THREADS`` when set (by the
    user, or by the local executor for each of its workers).
    """
    environ = os.environ if environ is None else environ
    return {"slurm": _positive_int(environ.get("SLURM_CPUS_PER_TASK")),
            "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "cgroup": cgroup_cpu_quota(cgroup_root, membership),
            "omp": _positive_int(environ.get("OMP_NUM_THREADS"))}


def usable_cpus(limits: dict | None = None) -> int:
    """The smallest limit: as many compute threads as there are CPUs to run them, never oversubscribed."""
    limits = cpu_limits() if limits is None else limits
    return max(1, min([n for n in limits.values() if n] or [os.cpu_count() or 1]))


def use_cpus() -> dict:
    """Give torch (its OpenMP and MKL pools) one thread per usable CPU; the thread count and the limits it
    comes from, for the cell's record. Every executor's cells go through here."""
    import torch

    limits = cpu_limits()
    threads = usable_cpus(limits)
    torch.set_num_threads(threads)
    return {"threads": threads, "cpu_limits": limits}


def cgroup_cpu_quota(root: Path = Path("/sys/fs/cgroup"), membership: str | None = None) -> int | None:
    """CPUs per period the process's control groups allow (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``), rounded up.

    ``membership`` is ``/proc/self/cgroup``; a group's ancestors limit it too, so the smallest quota wins.
    """
    if membership is None:
        membership = _read(Path("/proc/self/cgroup")) or ""
    quotas = []
    for line in membership.splitlines():
        hierarchy, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if hierarchy == "0":
            for folder in _groups([root, root / "unified"], path):
                quota, _, period = (_read(folder / "cpu.max") or "max").partition(" ")
                quotas.append(_ratio(quota, period))
        elif "cpu" in controllers.split(","):
            for folder in _groups([root / controllers, root / "cpu"], path):
                quotas.append(_ratio(_read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")))
    quotas = [q for q in quotas if q]
    return min(quotas) if quotas else None


def _groups(mounts: list[Path], path: str):
    """The group's folder and its ancestors, under each mount that exists."""
    for mount in filter(Path.is_dir, mounts):
        folder = mount / path.strip("/")
        while not folder.is_dir() and folder != mount:  # the group lies outside this namespace's view
            folder = folder.parent
        yield folder
        while folder != mount:
            folder = folder.parent
            yield folder


def _ratio(quota: str | None, period: str | None) -> int | None:
    try:
        quota_us, period_us = int(quota), int(period)
    except (TypeError, ValueError):  # "max", missing files
        return None
    return math.ceil(quota_us / period_us) if quota_us > 0 and period_us > 0 else None


def _positive_int(text: str | None) -> int | None:
    try:
        value = int(str(text).strip())
    except ValueError:
        return None
    return value if value > 0 else None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


# --- how much memory this process may use ----------------------------------------------------------------


def memory_bytes(meminfo: Path = Path("/proc/meminfo"), cgroup_root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """The machine's physical memory, or its control group's limit when smaller (a container's ``--memory``,
    a Slurm job's cgroup); None where neither can be read. What no setting may exceed, whatever else runs."""
    limits = []
    text = _read(meminfo) or ""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            limits.append(int(line.split()[1]) * 1024)
    cgroup = _positive_int((_read(cgroup_root / "memory.max") or "").strip())
    if cgroup:
        limits.append(cgroup)
    return min(limits) if limits else None
