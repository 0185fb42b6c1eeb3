"""The ``slurm`` executor: cells as a Slurm job array, through submitit.

Each cell's job claims, computes and writes its cell into the run folder
itself, so the launcher may exit (``wait = false``) and a later ``benchsuite
run`` collects what finished. A job that is preempted or hits its time limit
is requeued by submitit and resumes from the cell's last training
checkpoint. Jobs still queued or running are not submitted twice.
submitit is imported only when this executor is used.
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchsuite import api
from benchsuite.api import PluginError
from benchsuite.hookspecs import hookimpl
from benchsuite.toolkit import create_plugin, locked, write_text_atomic

_COMMANDS = ("sbatch", "srun", "sacct", "scancel")  # submit, run inside the job, watch, cancel
_ALIVE = {"PENDING", "RUNNING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "COMPLETING",
          "SUSPENDED", "RESIZING", "SIGNALING", "STAGE_OUT"}


def controller_problem(timeout_s: float = 20.0) -> str | None:
    """Why the Slurm controller would refuse a submission now (``scontrol ping``: down, or silent), or None;
    None too where ``scontrol`` is not installed (sbatch then says it at submission)."""
    scontrol = shutil.which("scontrol")
    if scontrol is None:
        return None
    try:
        answer = subprocess.run([scontrol, "ping"], capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return f"the Slurm controller did not answer `scontrol ping` within {timeout_s:g} s; try again later"
    text = (answer.stdout + answer.stderr).strip()
    if answer.returncode != 0 or "DOWN" in text:
        first = text.splitlines()[0] if text else f"exit code {answer.returncode}"
        return f"the Slurm controller is not answering (scontrol ping: {first}); start it, or ask the cluster's admins"
    return None


def _submitit():
    try:
        import submitit
    except ImportError:
        raise PluginError("the slurm executor needs submitit: pip install 'benchsuite[slurm]'") from None
    return submitit


class Slurm(api.Executor):
    name = "slurm"
    description = "A Slurm cluster through submitit: a job array per run, per-cell resources, requeue and resume"
    in_process = False

    def __init__(self, partition: str | None = None, gpus_per_node: int | None = None, cpus_per_task: int = 1,
                 mem_gb: float | None = None, timeout_min: int = 60, array_parallelism: int = 64, wait: bool = True,
                 poll_s: float = 2.0, account: str | None = None, qos: str | None = None,
                 constraint: str | None = None, gpu_type: str | None = None, sbatch: str = ""):
        self.submitit = _submitit()
        if gpus_per_node is not None and gpus_per_node < 0:
            raise PluginError(f"executor slurm: gpus_per_node must be 0 or more, got {gpus_per_node}")
        self.gpus_per_node, self.mem_gb, self.gpu_type = gpus_per_node, mem_gb, gpu_type
        self.parameters = {"cpus_per_task": cpus_per_task, "timeout_min": timeout_min,
                           "slurm_array_parallelism": array_parallelism}
        named = {"slurm_partition": partition, "slurm_account": account, "slurm_qos": qos,
                 "slurm_constraint": constraint}
        self.parameters |= {key: value for key, value in named.items() if value}
        extra = sbatch_options(sbatch)
        if extra:
            self.parameters["slurm_additional_parameters"] = extra
        self.wait = wait
        self.poll_s = poll_s
        self.parallel = array_parallelism

    def job_parameters(self, cells) -> dict:
        """submitit's parameters for these cells: one GPU per task when any cell trains a network (unless
        gpus_per_node says otherwise), as a typed GRES where gpu_type names one; the host memory
        the largest cell needs, see :func:`cells_memory_gb` (unless mem_gb says otherwise)."""
        gpus = self.gpus_per_node
        if gpus is None:
            gpus = 1 if any(getattr(cell, "trains_networks", True) for cell in cells) else 0
        parameters = dict(self.parameters)
        if gpus and self.gpu_type:
            parameters["slurm_gres"] = f"gpu:{self.gpu_type}:{gpus}"
        else:
            parameters["gpus_per_node"] = gpus
        parameters["mem_gb"] = self.mem_gb if self.mem_gb is not None else cells_memory_gb(cells, bool(gpus))
        return parameters

    def preflight(self) -> None:
        """The Slurm commands submitit runs must be here and the controller must answer, or nothing is written
        (a dry run says so too)."""
        for command in _COMMANDS:
            if shutil.which(command) is None:
                raise PluginError(f"the slurm executor needs the Slurm command {command!r}, which is not on PATH "
                                  "(run on a cluster's login node, or load its module)")
        problem = controller_problem()
        if problem:
            raise PluginError(problem)

    def map(self, work, items, workdir: Path):
        folder = Path(workdir) / "slurm"
        submissions = _Submissions(folder / "submitted.json")
        fresh = [item for item in items if not self._alive(folder, submissions.get(item.id))]
        if not fresh:
            return
        executor = self.submitit.AutoExecutor(folder=folder / "%j", cluster="slurm")
        parameters = self.job_parameters(fresh)
        executor.update_parameters(name="benchsuite", **parameters)
        gpu = bool(parameters.get("gpus_per_node") or parameters.get("slurm_gres"))
        jobs = self._submit(executor, _CellJob(work, gpu), fresh, folder)
        submissions.record({item.id: job.job_id for item, job in zip(fresh, jobs)})
        print(f"submitted {api.counted(len(jobs), 'cell')} as Slurm job array {jobs[0].job_id.split('_')[0]}", flush=True)
        if not self.wait:
            return
        waiting = dict(zip((j.job_id for j in jobs), zip(fresh, jobs)))
        while waiting:
            for job_id, (item, job) in list(waiting.items()):
                if not job.done():
                    continue
                del waiting[job_id]
                try:
                    yield job.result()
                except (self.submitit.core.utils.UncompletedJobError, self.submitit.core.utils.FailedJobError) as exc:
                    print(f"Slurm job {job_id} for cell {item.id} ended without a result ({_first_line(exc)}); "
                          "run again to retry it", file=sys.stderr, flush=True)
            if waiting:
                time.sleep(self.poll_s)

    def _submit(self, executor, work, items, folder: Path) -> list:
        """The job array of ``items``; a one-line error when sbatch refuses it (a controller that does not answer,
        a partition or account it does not know), with submitit's files for the array removed again."""
        before = set(folder.iterdir()) if folder.is_dir() else set()
        try:
            with contextlib.redirect_stderr(io.StringIO()):  # submitit prints sbatch's error too; it is said below
                return executor.map_array(work, items)
        except self.submitit.core.utils.FailedJobError as exc:
            for leftover in set(folder.iterdir()) - before if folder.is_dir() else ():
                shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink(missing_ok=True)
            raise PluginError(f"Slurm refused the job array of {len(items)} cells ({_first_line(exc)}); nothing was "
                              "submitted: run again once sbatch works") from None

    def _alive(self, folder: Path, job_id: str | None) -> bool:
        if job_id is None:
            return False
        state = self.submitit.SlurmJob(folder=folder / "%j", job_id=job_id).state
        return state.split()[0].upper() in _ALIVE if state else False


class _CellJob:
    """The callable a job runs; requeued with the same cell on timeout or preemption. A job that asked for a
    GPU says so to the cell (``api.GIVEN_GPU``), which warns when it then sees none."""

    def __init__(self, work, gpu: bool = False):
        self.work, self.gpu = work, gpu

    def __call__(self, item):
        if self.gpu:
            os.environ.setdefault(api.GIVEN_GPU, os.environ.get("CUDA_VISIBLE_DEVICES") or "requested from Slurm")
        return self.work(item)

    def checkpoint(self, item):
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self, item)


PROCESS_GB = {True: 4.0, False: 2.0}  # a worker before any data: torch and, with a GPU, CUDA's host side
MODEL_GB = 1.0  # the largest lab network (the fish U-Net, 124 MB of weights) with gradients, Adam and best copy
STAGING_FACTOR = 4  # the staged uint8 set, its pinned copy, the decoded originals and a prepared batch at once
FALLBACK_GB = {True: 16, False: 4}  # where a dataset cannot be listed from the launcher


def host_memory_gb(images: int, input_size, channels: int, gpu: bool) -> int:
    """Host memory one cell needs, in whole GB: the process (:data:`PROCESS_GB`), its dataset staged at the
    cell's input (n × c × h × w uint8) times :data:`STAGING_FACTOR`, and the network (:data:`MODEL_GB`)."""
    width, height = api.extent(input_size)
    staged = images * channels * width * height / 1e9
    return math.ceil(PROCESS_GB[gpu] + STAGING_FACTOR * staged + MODEL_GB)


def cells_memory_gb(cells, gpu: bool) -> int:
    """The host memory a job array asks for: what its largest cell needs (:func:`host_memory_gb`), counting
    each dataset's images from its annotations (no image is read); :data:`FALLBACK_GB` when a dataset cannot
    be listed here or a cell does not say its dataset."""
    counts: dict[str, int | None] = {}
    needs = []
    for cell in cells:
        dataset, protocol = getattr(cell, "dataset", None), getattr(cell, "protocol", None)
        if dataset is None or protocol is None or isinstance(protocol.input_size, str):
            return FALLBACK_GB[gpu]
        key = json.dumps([dataset.name, dataset.plugin_params], sort_keys=True, default=str)
        if key not in counts:
            counts[key] = _image_count(dataset)
        if counts[key] is None:
            return FALLBACK_GB[gpu]
        needs.append(host_memory_gb(counts[key], protocol.input_size, protocol.channels, gpu))
    return max(needs, default=FALLBACK_GB[gpu])


def _image_count(dataset) -> int | None:
    try:
        return len(create_plugin("datasets", dataset.name, dataset.plugin_params).samples())
    except Exception:  # noqa: BLE001 - the dataset is read again, and its error said, by the job itself
        return None


def _first_line(exc: Exception) -> str:
    """What submitit's error says first (Slurm's own message), or the error's type when it says nothing."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def sbatch_options(text: str) -> dict[str, str]:
    """``"--reservation=lab --nice=10"`` (any sbatch option a cluster requires) as submitit passes them on."""
    options = {}
    for token in text.split():
        key, sep, value = token.removeprefix("--").partition("=")
        if not token.startswith("--") or not key:
            raise PluginError(f"executor slurm: sbatch options are --name=value, got {token!r}")
        options[key] = value if sep else ""
    return options


class _Submissions:
    """Which Slurm job each cell was last submitted as (so live jobs are not submitted twice).

    Two launchers may submit at once: the file is re-read and updated under a lock, and written atomically.
    """

    def __init__(self, path: Path):
        self.path = path
        self.known = self._read()

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except ValueError:
            return {}  # a damaged record only means live jobs may be submitted again: duplicate work at worst
        return data if isinstance(data, dict) else {}

    def get(self, cell_id: str) -> str | None:
        return self.known.get(cell_id)

    def record(self, new: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with locked(self.path.with_name(f".{self.path.name}.lock")):
            self.known = self._read() | new
            write_text_atomic(self.path, json.dumps(self.known, indent=1))


@hookimpl
def register_executors(register):
    register(Slurm)
