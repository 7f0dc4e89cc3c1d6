"""How much memory a new allocation may take here, and how much each command needs per byte of samples.

:func:`available_memory` is the least of the system's available memory,
the room under this process's cgroup limit and the room under its
address-space limit; :data:`MEMORY_USE` holds each command's measured need.
The engine's memory guard (:func:`sim.engine.check_memory`) puts them
together before anything large is allocated.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["MEMORY_USE", "available_memory", "cgroup_room"]


#: Peak memory of each command over the bytes of the run's samples, and the fixed memory it adds (matplotlib and
#: the figures for a report). Measured with the peak RSS of search_cost at 1e6 and 3e6 samples and training_cost
#: at 2e5 and 4e5, less the 0.2 GiB of a started sim: 1.0 to 1.05 for a run, 1.35 to 1.53 for a run with its
#: report, 1.53 for decide and 1.81 for sensitivity; the factors are those plus a tenth. Calibration (the run and its
#: resampled posterior, importance weighting of search_cost at 1e6 samples): 1.97, so 2.2.
MEMORY_USE = {"run": (1.35, 0), "report": (1.7, 0.5 * 2**30), "decide": (1.7, 0), "sensitivity": (2.0, 0),
              "calibrate": (2.2, 0)}


def _meminfo(key: str, path: str = "/proc/meminfo") -> int | None:
    """A ``key:  N kB`` line of a ``/proc`` file, in bytes."""
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def cgroup_room(proc_cgroup: str = "/proc/self/cgroup", root: str = "/sys/fs/cgroup") -> int | None:
    """Bytes left under the memory limit of this process's cgroup and of its ancestors (cgroup v2 or v1), or None
    where there is no limit. A container sees its own cgroup at ``root``; the path in ``proc_cgroup`` may then
    not exist below it, so ``root`` itself is read too."""
    try:
        lines = Path(proc_cgroup).read_text().splitlines()
    except OSError:
        return None
    rooms = []
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if controllers == "":
            base, limit_file, usage_file = Path(root), "memory.max", "memory.current"
        elif "memory" in controllers.split(","):
            base, limit_file, usage_file = Path(root) / "memory", "memory.limit_in_bytes", "memory.usage_in_bytes"
        else:
            continue
        parts = [p for p in path.strip("/").split("/") if p]
        for depth in range(len(parts), -1, -1):
            folder = base.joinpath(*parts[:depth])
            limit, usage = _read_int(folder / limit_file), _read_int(folder / usage_file)
            if limit is not None and usage is not None and limit < 2**60:  # "max", or v1's 2**63 - 4096: none
                rooms.append(max(limit - usage, 0))
    return min(rooms) if rooms else None


def available_memory() -> tuple[int, str] | None:
    """Bytes a new allocation can take, and what bounds them, or None where unknown.

    The least of the system's available memory (``MemAvailable``), the room
    under this process's cgroup memory limit, and the room under its
    address-space limit (``ulimit -v``) given what it has mapped already.
    """
    import resource

    rooms = []
    system = _meminfo("MemAvailable")
    if system is not None:
        rooms.append((system, "available"))
    cgroup = cgroup_room()
    if cgroup is not None:
        rooms.append((cgroup, "left under this process's cgroup memory limit"))
    for limit, name, counted in ((resource.RLIMIT_AS, "ulimit -v", "VmSize"),
                                 (resource.RLIMIT_DATA, "ulimit -d", "VmData")):
        soft = resource.getrlimit(limit)[0]
        mapped = _meminfo(counted, "/proc/self/status")
        if soft != resource.RLIM_INFINITY and mapped is not None:
            rooms.append((max(soft - mapped, 0), f"left under this process's memory limit ({name})"))
    return min(rooms) if rooms else None
