"""Where cells run: ``local`` runs them in this process or in a pool of worker
processes on this machine, dealt round the GPUs that ``CUDA_VISIBLE_DEVICES``
leaves visible (in its order; indices or UUIDs), several to a GPU when
``--jobs`` exceeds their number; on a CPU the cores are divided between the
workers, not oversubscribed).
Workers end with their launcher, however it ends (even SIGKILL): on Linux
the kernel signals them, elsewhere they watch their parent."""
from __future__ import annotations

import concurrent.futures
import ctypes
import multiprocessing
import os
import signal
import threading
import time

from benchsuite import api, toolkit
from benchsuite.api import PluginError
from benchsuite.hookspecs import hookimpl

_PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> None:
    """End this worker when the launcher ends, so a killed launcher leaves no orphan holding memory."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        armed = libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        armed = False
    if os.getppid() != parent:  # the launcher died before the signal was armed
        os._exit(1)
    if not armed:
        def watch():
            while os.getppid() == parent:
                time.sleep(1.0)
            os._exit(1)

        threading.Thread(target=watch, daemon=True, name="benchsuite-parent-watch").start()


def visible_devices(count: int, inherited: str | None) -> list[str]:
    """The GPUs this launcher may use, as ``CUDA_VISIBLE_DEVICES`` names them: the inherited list (indices,
    GPU or MIG UUIDs, in the order a user or scheduler gave) or, when none was set, 0 .. count - 1."""
    if inherited is not None and inherited.strip():
        return [token.strip() for token in inherited.split(",") if token.strip()][:count]
    return [str(index) for index in range(count)]


def device_for(slot: int, devices: list[str]) -> str | None:
    """A worker's GPU: workers are dealt round the visible GPUs, so several cells share one when --jobs is
    larger than the number of GPUs."""
    return devices[slot % len(devices)] if devices else None


def _init_worker(slots, devices: list[str], threads: int, parent: int) -> None:
    """Give this worker its GPU (before CUDA starts) or its share of the CPU cores (before torch starts:
    the cell then keeps to it, see :func:`benchsuite.run.environment.cpu_limits`); tie it to the launcher."""
    _die_with(parent)
    device = device_for(slots.get(), devices)
    if device is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = device
    os.environ["OMP_NUM_THREADS"] = str(threads)


class Local(api.Executor):
    name = "local"
    description = "This machine: --jobs N worker processes dealt round the visible GPUs, or CPU cores shared out"
    default = True

    def __init__(self, jobs: int = 1):
        if jobs < 1:
            raise PluginError(f"executor local: jobs must be at least 1, got {jobs}")
        import torch

        self.devices = visible_devices(torch.cuda.device_count(), os.environ.get("CUDA_VISIBLE_DEVICES"))
        self.jobs = jobs  # workers; with fewer GPUs, cells share them (a small network leaves a GPU mostly idle)
        self.in_process = self.jobs == 1
        self.parallel = self.jobs

    def map(self, work, items, workdir=None):
        items = list(items)
        if self.in_process:
            for item in items:
                yield work(item)
            return
        context = multiprocessing.get_context("spawn")
        slots = context.Queue()
        for slot in range(self.jobs):
            slots.put(slot)
        threads = max(1, toolkit.usable_cpus() // self.jobs)
        with concurrent.futures.ProcessPoolExecutor(
            self.jobs, mp_context=context, initializer=_init_worker, initargs=(slots, self.devices, threads, os.getpid())
        ) as pool:
            futures = [pool.submit(work, item) for item in items]
            try:
                for future in concurrent.futures.as_completed(futures):
                    yield future.result()
            except concurrent.futures.process.BrokenProcessPool:
                raise PluginError("a worker process died (killed or out of memory); completed cells are kept, "
                                  "run the same command again to resume") from None


@hookimpl
def register_executors(register):
    register(Local)
