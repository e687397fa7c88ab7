"""Simulated GPUs: count, capacity and an optional memory cap; allocations beyond it fail like CUDA.

With SIM_GPU_SHARED the GPUs are the node's, not the container's: an allocation also counts what every other live
process on the node holds on that GPU (their state files side by side), so two instances on one 80 GB GPU fail the
way CUDA does.
"""

from __future__ import annotations

import fcntl
import glob
import json
import logging
import os
import tempfile
import threading
import time

GIB = 1024**3
# A live process republishes its state every second (keep_publishing): an older file belongs to a process that is gone.
STATE_MAX_AGE_S = 4
log = logging.getLogger(__name__)


class CudaOutOfMemoryError(RuntimeError):
    """Raised the way torch.cuda.OutOfMemoryError is: an allocation the device cannot hold."""


class SimulatedGPU:
    def __init__(self, index, total_bytes, cap_bytes=None, name="Simulated Live Avatar GPU"):
        self.index = index
        self.total = int(total_bytes)
        self.cap = int(cap_bytes) if cap_bytes else None
        self.name = name
        self.allocations = {}
        self.peak = 0
        self._lock = threading.Lock()

    @property
    def limit(self):
        return min(self.total, self.cap) if self.cap else self.total

    @property
    def used(self):
        return sum(self.allocations.values())

    def allocate(self, tag, nbytes, others=0):
        """`others`: bytes that other processes on the node hold on this GPU (a physical GPU is shared)."""
        with self._lock:
            nbytes = int(nbytes)
            free = min(self.limit - self.used, self.total - self.used - int(others))
            if nbytes > free:
                raise CudaOutOfMemoryError(
                    f"CUDA out of memory. Tried to allocate {nbytes / GIB:.2f} GiB. GPU {self.index} has a total capacity of "
                    f"{self.limit / GIB:.2f} GiB of which {max(free, 0) / GIB:.2f} GiB is free ({tag})"
                )
            self.allocations[tag] = self.allocations.get(tag, 0) + nbytes
            self.peak = max(self.peak, self.used)

    def free(self, tag):
        with self._lock:
            self.allocations.pop(tag, None)


def mps_pinned_limits_gb(value):
    """CUDA_MPS_PINNED_DEVICE_MEM_LIMIT ('0=20G,1=512M') as {ordinal: GB}; a malformed entry is refused as CUDA would."""
    units = {"G": 1.0, "M": 1 / 1024}
    limits = {}
    for entry in filter(None, (e.strip() for e in value.split(","))):
        ordinal, equals, size = entry.partition("=")
        if not equals or not ordinal.strip().isdigit() or not size or size[-1].upper() not in units or not size[:-1].replace(".", "", 1).isdigit():
            raise ValueError(f"CUDA_MPS_PINNED_DEVICE_MEM_LIMIT entry {entry!r} is not <ordinal>=<n>G or <n>M")
        limits[int(ordinal)] = float(size[:-1]) * units[size[-1].upper()]
    return limits


class GPUPool:
    """The node's simulated GPUs; their state is published to a JSON file for the lab's nvidia-smi."""

    def __init__(self, count, memory_gb, cap_gb=None, state_file=None, caps_gb=None, shared=False):
        caps_gb = caps_gb or {}
        if shared and not state_file:
            raise ValueError("a node-shared GPU pool needs a state file (SIM_GPU_STATE_FILE) under the node's GPU directory")
        self.shared = shared
        self.gpus = []
        for i in range(count):
            cap = min(c for c in (cap_gb, caps_gb.get(i)) if c) if (cap_gb or caps_gb.get(i)) else None
            self.gpus.append(SimulatedGPU(i, memory_gb * GIB, cap * GIB if cap else None))
        self.state_file = state_file
        self.publish()

    @classmethod
    def from_env(cls, count=None):
        # The simulated cap, the framework's own per-process cap (gpu_isolation, method framework) and the MPS
        # client limit CUDA enforces (gpu_isolation, method mps): the smallest applies, as on a real GPU.
        caps = [float(os.environ[name]) for name in ("SIM_GPU_MEMORY_CAP_GB", "LIVEAVATAR_GPU_MEMORY_CAP_GB") if os.environ.get(name)]
        return cls(
            count=int(count or os.environ.get("SIM_GPU_COUNT", "1")),
            memory_gb=float(os.environ.get("SIM_GPU_MEMORY_GB", "80")),
            cap_gb=min(caps) if caps else None,
            state_file=os.environ.get("SIM_GPU_STATE_FILE"),
            caps_gb=mps_pinned_limits_gb(os.environ.get("CUDA_MPS_PINNED_DEVICE_MEM_LIMIT", "")),
            # Opt-in: the state file's directory's parent is the node's GPU directory, shared by every container.
            shared=os.environ.get("SIM_GPU_SHARED", "").lower() in ("1", "true", "yes"),
        )

    def allocate(self, index, tag, nbytes):
        if not self.shared:
            try:
                self.gpus[index].allocate(tag, nbytes)
            finally:
                self.publish()
            return
        # The node's GPUs are physical: every process's state is read under one lock per GPU, as the driver would see it.
        with open(os.path.join(os.path.dirname(os.path.dirname(self.state_file)), f".gpu{index}.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                self.gpus[index].allocate(tag, nbytes, others=self.held_by_others(index))
            finally:
                self.publish()

    def held_by_others(self, index):
        """Bytes the node's other live processes hold on GPU `index`: their fresh state files beside this one's."""
        held = 0
        for path in glob.glob(os.path.join(os.path.dirname(os.path.dirname(self.state_file)), "*", "gpus.json")):
            try:
                if os.path.realpath(path) == os.path.realpath(self.state_file) or time.time() - os.path.getmtime(path) > STATE_MAX_AGE_S:
                    continue
                with open(path) as handle:
                    held += sum(g["memory_used_mib"] for g in json.load(handle)["gpus"] if g["index"] == index) * 2**20
            except (OSError, ValueError, KeyError):
                continue
        return held

    def free(self, tag):
        for gpu in self.gpus:
            gpu.free(tag)
        self.publish()

    def release_all(self):
        """The process is done with its GPUs (a real driver frees them when the process exits)."""
        for gpu in self.gpus:
            gpu.allocations.clear()
        self.publish()

    def snapshot(self):
        return [
            {
                "index": g.index,
                "name": g.name,
                "memory_total_mib": g.total // 2**20,
                "memory_limit_mib": g.limit // 2**20,
                "memory_used_mib": g.used // 2**20,
                "memory_peak_mib": g.peak // 2**20,
            }
            for g in self.gpus
        ]

    def keep_publishing(self, interval_s=1.0):
        """Republish while the process lives: the lab's nvidia-smi counts a state file only while it is fresh, the way a
        driver frees a dead process's memory (a SIGKILLed container leaves its file behind)."""

        def beat():
            while True:
                time.sleep(interval_s)
                self.publish()

        threading.Thread(target=beat, name="gpu-state-heartbeat", daemon=True).start()

    def publish(self):
        if not self.state_file:
            return
        directory = os.path.dirname(self.state_file) or "."
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".gpus.")
        with os.fdopen(fd, "w") as handle:
            json.dump({"gpus": self.snapshot(), "pid": os.getpid()}, handle)
        os.replace(tmp, self.state_file)
