"""Where cells run: ``local`` runs them in this process or in pools of worker
processes on this machine. On a machine with GPUs, the cells that train
networks go to GPU workers dealt round the GPUs that ``CUDA_VISIBLE_DEVICES``
leaves visible (in its order; indices or UUIDs), ``cells_per_gpu`` to a GPU
(or ``--jobs`` in all), while the cells that train none (the mean shape,
dlib-ert) run beside them in a CPU pool that never sees a GPU, sized by the
cores the GPU workers leave free. Without GPUs, ``--jobs`` workers share the
cores out, as one pool.
Workers end with their launcher, however it ends (even SIGKILL): on Linux
the kernel signals them, elsewhere they watch their parent."""
from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import json
import math
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

from benchsuite import api, toolkit
from benchsuite.api import PluginError
from benchsuite.hookspecs import hookimpl

_PR_SET_PDEATHSIG = 1
CONTEXT_BYTES = 1 << 30  # per worker beside its measured peak: the CUDA context and the allocator's cache
PEAK_MARGIN = 1.25  # a later cell of the same configuration may peak a little higher (other fold, other images)


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
    """A worker's GPU: workers are dealt round the visible GPUs, so several cells share one when there are
    more workers than GPUs."""
    return devices[slot % len(devices)] if devices else None


def pool_for(item, devices: list[str]) -> str:
    """``"gpu"`` for a cell that trains networks on a machine with GPUs, else ``"cpu"``: a cell that trains no
    network must not hold a GPU worker (an ml-morph dlib cell takes minutes while the GPU would idle)."""
    return "gpu" if devices and getattr(item, "trains_networks", True) else "cpu"


def pool_plan(gpu_items: int, cpu_items: int, gpu_workers: int, cpus: int) -> dict[str, tuple[int, int]]:
    """Pool -> (workers, threads per worker), on a machine with GPUs. Each GPU worker counts one core (it
    dispatches to its GPU) and gets them all shared out when no CPU pool runs; the CPU pool gets the cores
    left free (at least one), no more workers than it has cells, and their cores shared out."""
    plan = {}
    if gpu_items:
        workers = max(1, min(gpu_workers, gpu_items))
        plan["gpu"] = (workers, 1 if cpu_items else max(1, cpus // workers))
    if cpu_items:
        free = max(1, cpus - plan.get("gpu", (0, 0))[0])
        workers = min(free, cpu_items)
        plan["cpu"] = (workers, max(1, free // workers))
    return plan


def worker_env(pool: str, slot: int, devices: list[str], threads: int) -> dict[str, str]:
    """The environment a worker sets before torch starts: its GPU (and the mark that it was given one), or, in
    the CPU pool beside GPUs, no GPU at all (it then never creates a CUDA context); its share of the cores
    (the cell keeps to it, see :func:`benchsuite.run.environment.cpu_limits`). Without GPUs nothing about
    devices is touched."""
    env = {"OMP_NUM_THREADS": str(threads)}
    if pool == "gpu":
        device = device_for(slot, devices)
        env |= {"CUDA_VISIBLE_DEVICES": device, api.GIVEN_GPU: device}
    elif devices:
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def cells_per_gpu_for(free_bytes: int | None, peak_bytes: int | None, most: int) -> int:
    """Workers per GPU when none is given: as many as the GPU's free memory holds, each at the measured peak of
    earlier cells (times :data:`PEAK_MARGIN`, plus :data:`CONTEXT_BYTES`), at most ``most``; 1 without a
    measurement or a free-memory figure."""
    if not free_bytes or not peak_bytes:
        return 1
    return max(1, min(most, math.floor(free_bytes / (peak_bytes * PEAK_MARGIN + CONTEXT_BYTES))))


def measured_peak(records, configurations: set[str]) -> int | None:
    """The largest ``peak_memory_bytes`` that earlier cells of these configurations recorded, or None when any
    of them has none yet (a configuration never measured could need more than the others)."""
    peaks: dict[str, int] = {}
    for record in records:
        peak, configuration = record.get("peak_memory_bytes"), record.get("configuration_id")
        if configuration in configurations and isinstance(peak, int) and peak > 0:
            peaks[configuration] = max(peak, peaks.get(configuration, 0))
    return max(peaks.values()) if configurations and set(peaks) == configurations else None


def _run_records(workdir) -> list[dict]:
    """The cell records already in the run folder (unreadable ones left out: they only lack a measurement)."""
    records = []
    for path in Path(workdir).glob("cells/*/cell.json") if workdir is not None else ():
        with contextlib.suppress(OSError, ValueError):
            record = json.loads(path.read_bytes())
            if isinstance(record, dict):
                records.append(record)
    return records


def _free_memory() -> int:
    """The least free memory of the GPUs this process sees (run in a helper process, so that the launcher
    itself never holds a CUDA context)."""
    import torch

    return min(torch.cuda.mem_get_info(index)[0] for index in range(torch.cuda.device_count()))


def _init_worker(envs, parent: int) -> None:
    """Set this worker's environment (before CUDA or torch's thread pools start); tie it to the launcher."""
    _die_with(parent)
    os.environ.update(envs.get())


class Local(api.Executor):
    name = "local"
    description = ("This machine: network cells in worker processes dealt round the visible GPUs (cells_per_gpu "
                   "each, or --jobs N in all), the rest in a CPU pool beside them; without GPUs, --jobs N workers")
    default = True

    def __init__(self, jobs: int | None = None, cells_per_gpu: int | None = None):
        if jobs is not None and jobs < 1:
            raise PluginError(f"executor local: jobs must be at least 1, got {jobs}")
        if cells_per_gpu is not None and cells_per_gpu < 1:
            raise PluginError(f"executor local: cells_per_gpu must be at least 1, got {cells_per_gpu}")
        if jobs is not None and cells_per_gpu is not None:
            raise PluginError("executor local: give jobs (workers in all) or cells_per_gpu (workers per GPU), "
                              "not both")
        import torch

        self.devices = visible_devices(torch.cuda.device_count(), os.environ.get("CUDA_VISIBLE_DEVICES"))
        self.jobs, self.cells_per_gpu = jobs, cells_per_gpu
        # with GPUs, always worker processes: the CPU pool runs beside them, and each gets its device before CUDA
        self.in_process = not self.devices and (jobs or 1) == 1
        self.parallel = jobs or (len(self.devices) * (cells_per_gpu or 1) if self.devices else 1)

    def gpu_workers(self, items, workdir=None) -> int:
        """How many GPU workers: --jobs when given, else cells_per_gpu (given, or from free memory and the run's
        measured peaks, see :func:`cells_per_gpu_for`) times the visible GPUs."""
        if self.jobs is not None:
            return self.jobs
        per_gpu = self.cells_per_gpu
        if per_gpu is None:
            configurations = {getattr(item, "configuration_id", None) for item in items}
            peak = measured_peak(_run_records(workdir), configurations - {None})
            most = max(1, toolkit.usable_cpus() // len(self.devices))  # each worker needs a core to dispatch
            per_gpu = cells_per_gpu_for(self._free_memory() if peak else None, peak, most)
        return per_gpu * len(self.devices)

    def _free_memory(self) -> int | None:
        context = multiprocessing.get_context("spawn")
        envs = context.Queue()
        envs.put({"CUDA_VISIBLE_DEVICES": ",".join(self.devices)})
        try:
            with concurrent.futures.ProcessPoolExecutor(1, mp_context=context, initializer=_init_worker,
                                                        initargs=(envs, os.getpid())) as probe:
                return probe.submit(_free_memory).result()
        except Exception:  # noqa: BLE001 - without the figure, one cell per GPU (the safe default)
            return None

    def map(self, work, items, workdir=None):
        items = list(items)
        if self.in_process:
            for item in items:
                yield work(item)
            return
        if self.devices:
            pools = {"gpu": [], "cpu": []}
            for item in items:
                pools[pool_for(item, self.devices)].append(item)
            gpu_workers = self.gpu_workers(pools["gpu"], workdir) if pools["gpu"] else 0
            plan = pool_plan(len(pools["gpu"]), len(pools["cpu"]), gpu_workers, toolkit.usable_cpus())
        else:  # as before there were pools: --jobs workers share the cores
            pools = {"cpu": items}
            plan = {"cpu": (self.jobs, max(1, toolkit.usable_cpus() // self.jobs))}
        yield from self._pooled(work, pools, plan)

    def _pooled(self, work, pools: dict[str, list], plan: dict[str, tuple[int, int]]):
        """Each pool's items in its own worker processes, all at once; results as they complete, from any pool."""
        context = multiprocessing.get_context("spawn")
        with contextlib.ExitStack() as stack:
            futures, executors = [], []
            for pool, (workers, threads) in plan.items():
                envs = context.Queue()
                for slot in range(workers):
                    envs.put(worker_env(pool, slot, self.devices, threads))
                executor = stack.enter_context(concurrent.futures.ProcessPoolExecutor(
                    workers, mp_context=context, initializer=_init_worker, initargs=(envs, os.getpid())))
                executors.append(executor)
                futures += [executor.submit(work, item) for item in pools[pool]]
            try:
                for future in concurrent.futures.as_completed(futures):
                    yield future.result()
            except concurrent.futures.process.BrokenProcessPool:
                for future in futures:  # the other pool's queued cells are not started: the run stops here
                    future.cancel()
                for executor in executors:  # joined now: a pool left running to interpreter exit races its own
                    executor.shutdown(wait=True)  # wake-up pipe there (OSError: Bad file descriptor, a traceback)
                raise PluginError("a worker process died (killed or out of memory); completed cells are kept, "
                                  "run the same command again to resume") from None


@hookimpl
def register_executors(register):
    register(Local)
