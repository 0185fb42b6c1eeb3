"""Where cells run: ``local`` runs them in this process or in a pool of worker
processes on this machine (one cell per GPU at a time when GPUs are present;
on a CPU the cores are divided between the workers, not oversubscribed)."""
from __future__ import annotations

import concurrent.futures
import multiprocessing
import os

from benchsuite import api
from benchsuite.api import PluginError
from benchsuite.hookspecs import hookimpl
from benchsuite.run import environment


def _init_worker(slots, n_gpus: int, threads: int) -> None:
    """Give this worker its own GPU (before CUDA starts) and its share of the CPU cores (before torch starts:
    the cell then keeps to it, see :func:`benchsuite.run.environment.cpu_limits`)."""
    slot = slots.get()
    if n_gpus:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(slot % n_gpus)
    os.environ["OMP_NUM_THREADS"] = str(threads)


class Local(api.Executor):
    name = "local"
    description = "This machine: --jobs N worker processes, one cell per GPU at a time, CPU cores shared out"
    default = True

    def __init__(self, jobs: int = 1):
        if jobs < 1:
            raise PluginError(f"executor local: jobs must be at least 1, got {jobs}")
        import torch

        self.gpus = torch.cuda.device_count()
        self.jobs = min(jobs, self.gpus) if self.gpus else jobs
        self.in_process = self.jobs == 1

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
        threads = max(1, environment.usable_cpus() // self.jobs)
        with concurrent.futures.ProcessPoolExecutor(
            self.jobs, mp_context=context, initializer=_init_worker, initargs=(slots, self.gpus, threads)
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
