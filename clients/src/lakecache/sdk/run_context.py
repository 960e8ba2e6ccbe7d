"""Where and how a tracked run runs: its code version (git) and its resource use (CPU,
memory, and GPUs when ``pynvml`` imports)."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import time
from typing import Any

log = logging.getLogger("lakecache.sdk.tracking")


def code_state(directory: str | None = None) -> tuple[str | None, bool | None]:
    """The git commit checked out in ``directory`` (default: the working directory) and whether
    the tree has changes; ``(None, None)`` outside a repository or without git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True,
                              timeout=10, check=False)
        if head.returncode != 0:
            return None, None
        status = subprocess.run(["git", "status", "--porcelain"], cwd=directory, capture_output=True, text=True,
                                timeout=30, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("no code version for the run: %s", exc)
        return None, None
    return head.stdout.strip() or None, bool(status.stdout.strip()) if status.returncode == 0 else None


def memory_rss_bytes() -> int | None:
    """The process's resident memory: ``/proc/self/statm``; elsewhere the peak ``getrusage`` gives."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


class ResourceSampler:
    """The process's CPU use (percent of one core, since the last sample) and resident memory;
    each GPU's utilization and memory when ``pynvml`` imports and finds a driver."""

    def __init__(self) -> None:
        self._cpu, self._wall = time.process_time(), time.monotonic()
        self._nvml: Any = None
        self._gpus: list[Any] = []
        try:
            import pynvml

            pynvml.nvmlInit()
            self._gpus = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
            self._nvml = pynvml
        except Exception as exc:  # noqa: BLE001 - no package, no driver, no GPU: CPU and memory only
            log.debug("no GPU metrics for the run: %s", exc)

    def sample(self) -> dict[str, float]:
        cpu, wall = time.process_time(), time.monotonic()
        values = {"system/cpu_percent": 100 * (cpu - self._cpu) / max(wall - self._wall, 1e-6)}
        self._cpu, self._wall = cpu, wall
        rss = memory_rss_bytes()
        if rss is not None:
            values["system/memory_rss_bytes"] = float(rss)
        for index, handle in enumerate(self._gpus):
            try:
                values[f"system/gpu{index}/utilization_percent"] = float(
                    self._nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
                values[f"system/gpu{index}/memory_used_bytes"] = float(self._nvml.nvmlDeviceGetMemoryInfo(handle).used)
            except Exception as exc:  # noqa: BLE001 - a GPU that stops answering is left out
                log.debug("no metrics of GPU %d: %s", index, exc)
        return values

    def close(self) -> None:
        if self._nvml is not None:
            with contextlib.suppress(Exception):
                self._nvml.nvmlShutdown()
