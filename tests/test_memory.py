"""The memory a command may take (sim.memory): the system's, the cgroup's and the process's limits."""

import pytest


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_the_memory_guard_reads_the_cgroup_limit(tmp_path, version):
    """A cgroup limit of 6 GiB with 1 GiB in use leaves 5 GiB, the parent's looser limit notwithstanding; the
    container's own root is read where the named path does not exist below it."""
    from sim.memory import cgroup_room

    proc = tmp_path / "cgroup"
    if version == "v2":
        proc.write_text("0::/jobs/sim\n")
        base, limit, usage, none = tmp_path / "fs", "memory.max", "memory.current", "max"
    else:
        proc.write_text("4:memory:/jobs/sim\n3:cpu:/jobs/sim\n")
        base, limit, usage, none = tmp_path / "fs" / "memory", "memory.limit_in_bytes", "memory.usage_in_bytes", \
            str(2**63 - 4096)
    for folder, (lim, use) in {base / "jobs" / "sim": (6 * 2**30, 2**30), base / "jobs": (8 * 2**30, 2**30),
                               base: (none, 3 * 2**30)}.items():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / limit).write_text(f"{lim}\n")
        (folder / usage).write_text(f"{use}\n")
    assert cgroup_room(str(proc), str(tmp_path / "fs")) == 5 * 2**30
    (base / "jobs" / "sim" / limit).write_text(f"{none}\n")
    assert cgroup_room(str(proc), str(tmp_path / "fs")) == 7 * 2**30
    proc.write_text("0::/elsewhere\n" if version == "v2" else "4:memory:/elsewhere\n")  # only the root is there
    assert cgroup_room(str(proc), str(tmp_path / "fs")) is None


def test_the_memory_guard_reads_the_process_limit(project):
    """Under `ulimit -v` 6 GiB, 2e6 samples of training_cost (17 GiB) used to crash with a traceback; now one line
    names the limit and the sample count that fits (650,000 samples ran under that cap: 4.3 GiB peak).

    What is left under the cap is the cap less the address space the process has already mapped, which depends on
    the libraries installed (pandas maps pyarrow's when it is there: about 1 GiB), so the test reads it from the
    message and checks the sample count that fits against it and the run's need."""
    import re
    import resource
    import subprocess
    import sys

    from sim.memory import MEMORY_USE

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (6 * 2**30, 6 * 2**30))

    left = r"more than the (?P<left>\d\.\d) GiB left under this process's memory limit \(ulimit -v\)"
    for extra, work, message in (
            (["--no-report"], "run", r"2,000,000 samples would need about (?P<need>17\.\d) GiB of memory, " + left +
             r"; run at most about (?P<fit>[\d,]+) samples, or add --stream to keep only summaries"),
            ([], "report", r"2,000,000 samples with the report would need about (?P<need>2\d\.\d) GiB of memory, " +
             left + r"; run at most about (?P<fit>[\d,]+) samples, or add --no-report \(or --stream, to keep only "
             r"summaries\)")):
        done = subprocess.run([sys.executable, "-m", "sim", "run", "training_cost", "--samples", "2000000", *extra],
                              capture_output=True, text=True, preexec_fn=cap, timeout=120)
        assert done.returncode == 2, done.stderr
        said = re.fullmatch(r"sim: error: experiments/training_cost\.toml: " + message + "\n", done.stderr)
        assert said, done.stderr
        assert 3.0 < float(said["left"]) < 6.0  # below the cap by what the process has mapped
        # fit = samples (left - extra) / (need - extra); left and need are printed to 0.05 GiB
        fixed = MEMORY_USE[work][1] / 2**30
        bounds = [2e6 * (float(said["left"]) + d - fixed) / (float(said["need"]) - d - fixed) for d in (-0.05, 0.05)]
        assert bounds[0] <= int(said["fit"].replace(",", "")) <= bounds[1], (bounds, done.stderr)
    assert not (project / "outputs").exists()
