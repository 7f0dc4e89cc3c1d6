"""Streaming runs agree with in-memory runs of the same seed, whatever the chunk size."""

import numpy as np
import pandas as pd
import pytest

import sim
from sim.cli import main
from sim.report import summary_frame, summary_table
from sim.studies.stream import LogHistogram, stream_summary

from ..helpers import one_line_error

KEY = ["output", "scenario", "architecture"]
EXACT_COLUMNS = ["p_gt_revenue_per_query", "p_gt_revenue_per_query_ci_lower", "p_gt_revenue_per_query_ci_upper"]
MOMENTS = ["mean", "se_mean", "sd", "mean_ci_lower", "mean_ci_upper"]
QUANTILES = ["p05", "p25", "p50", "p75", "p95"]
#: What a streamed run's folder holds: no samples.nc.
STREAMED = ["inputs", "run.json", "summary.csv", "summary.nc"]


@pytest.fixture(scope="module")
def both(search_experiment):
    n = 30_000
    streamed = summary_table(stream_summary(search_experiment, samples=n, chunk_size=4096))
    ds = sim.run(search_experiment, samples=n)
    return streamed, summary_frame(ds), ds


def test_columns_and_rows_are_the_in_memory_summarys(both):
    streamed, memory, _ = both
    assert list(streamed.columns) == list(memory.columns)
    assert streamed[KEY].astype(str).values.tolist() == memory[KEY].astype(str).values.tolist()


def test_moments_and_probabilities_agree_to_rounding(both):
    streamed, memory, _ = both
    # chunked means and sums of squares merge exactly up to floating-point rounding (1e-12 relative)
    np.testing.assert_allclose(streamed[MOMENTS].to_numpy(float), memory[MOMENTS].to_numpy(float), rtol=1e-12)
    # exceedance probabilities are counts: identical, and so are their intervals
    pd.testing.assert_frame_equal(streamed[EXACT_COLUMNS], memory[EXACT_COLUMNS])


def test_quantiles_lie_within_the_stated_error_of_the_order_statistics(both):
    """Each streamed quantile is within 0.1 % of the order statistics the in-memory quantile lies between."""
    streamed, _, ds = both
    n, delta = ds.sizes["sample"], 1e-3
    for row in streamed.itertuples():
        cell = {"scenario": row.scenario}
        if isinstance(row.architecture, str):
            cell["architecture"] = row.architecture
        x = np.sort(ds[row.output].sel(cell).values)
        for q, label in zip((0.05, 0.25, 0.5, 0.75, 0.95), QUANTILES):
            pos = q * (n - 1)
            lo, hi = x[int(np.floor(pos))], x[int(np.ceil(pos))]
            est = getattr(row, label)
            assert min(lo, hi) * (1 - delta) <= est <= max(lo, hi) * (1 + delta), (row.output, cell, label)


def test_chunk_size_does_not_change_the_result(search_experiment, both):
    streamed, _, _ = both
    other = summary_table(stream_summary(search_experiment, samples=30_000, chunk_size=7_777))
    exact = [c for c in streamed.columns if c not in MOMENTS]
    pd.testing.assert_frame_equal(other[exact], streamed[exact])  # counts and histograms: identical
    np.testing.assert_allclose(other[MOMENTS].to_numpy(float), streamed[MOMENTS].to_numpy(float), rtol=1e-12)


def test_jobs_give_the_single_process_numbers(search_experiment, both):
    """Two processes summarise ranges of whole chunks; merged, the counts and histograms are one process's."""
    streamed, _, _ = both
    spread = summary_table(stream_summary(search_experiment, samples=30_000, chunk_size=4096, jobs=2))
    exact = [c for c in streamed.columns if c not in MOMENTS]
    pd.testing.assert_frame_equal(spread[exact], streamed[exact])
    # merged in the order of the ranges, not in one pass: equal to rounding (1e-12 relative, as above)
    np.testing.assert_allclose(spread[MOMENTS].to_numpy(float), streamed[MOMENTS].to_numpy(float), rtol=1e-12)


def test_ranges_are_whole_chunks_covering_the_samples():
    from sim.studies.stream import ranges

    parts = ranges(30_000, 8, 4096)
    assert parts[0] == (0, 4096) and parts[-1][1] == 30_000
    assert all(b == c for (_, b), (c, _) in zip(parts, parts[1:]))  # contiguous
    assert all(a % 4096 == 0 for a, _ in parts)


def test_jobs_without_stream_is_one_line(project, capsys):
    assert (one_line_error(capsys, ["run", "--jobs", "2", "--samples", "100"])
            == "sim: error: --jobs 2: only a --stream run is spread over processes")
    assert one_line_error(capsys, ["run", "--dask", "--jobs", "2", "--samples", "100"]).endswith(
        "; a --dask cluster has its own workers")
    assert not (project / "outputs").exists()


def test_log_histogram_handles_signs_and_zero():
    rng = np.random.default_rng(3)
    x = np.concatenate([-rng.lognormal(0, 3, 5000), np.zeros(100), rng.lognormal(2, 1, 5000)])[None, :]
    h = LogHistogram(1, relative_error=1e-3)
    for part in np.array_split(x, 7, axis=1):
        h.add(part)
    ranks = np.arange(0, x.size, 37)
    got = h.at_ranks(ranks[None, :])[0]
    want = np.sort(x[0])[ranks]
    assert np.all(np.abs(got - want) <= 1e-3 * np.abs(want))


def test_stream_command(project, capsys):
    assert main(["run", "--stream", "--samples", "5000", "--no-report"]) == 0
    folder = project / "outputs" / "search_cost"
    assert sorted(p.name for p in folder.iterdir()) == STREAMED
    summary = pd.read_csv(folder / "summary.csv")
    ds = sim.run(sim.load_experiment("experiments/search_cost.toml"), samples=5000)
    memory = summary_frame(ds)
    np.testing.assert_allclose(summary["mean"], memory["mean"], rtol=1e-9)  # CSV: 10 significant digits
    assert "a streamed run keeps no samples" in capsys.readouterr().out
    assert main(["run", "--stream", "--sampler", "lhs", "--samples", "100"]) == 2
    assert "a Latin hypercube spans the whole design" in capsys.readouterr().err


def test_dask_cluster_gives_the_streamed_numbers(search_experiment, both):
    """Two worker processes summarise ranges of the design; merged, they equal the single-process stream."""
    from sim.studies.dask import dask_summary, fixed_mmap_threshold, local_client

    streamed, memory, _ = both
    with local_client(2) as client:  # the workers `sim run --dask` starts
        assert len(client.scheduler_info()["workers"]) == 2
        assert not any(client.run(fixed_mmap_threshold).values())
        distributed = summary_table(dask_summary(search_experiment, client, samples=30_000, chunk_size=4096))  # no warning
    exact = [c for c in streamed.columns if c not in MOMENTS]
    pd.testing.assert_frame_equal(distributed[exact], streamed[exact])
    # merged in a different order than one pass: equal to rounding, and to the in-memory run
    np.testing.assert_allclose(distributed[MOMENTS].to_numpy(float), memory[MOMENTS].to_numpy(float), rtol=1e-12)


def test_dask_command_on_a_local_cluster(project, capsys):
    """`sim run --dask` starts its own cluster (a worker per core), and `--stream --jobs 2` two processes; both write
    what `--stream` writes."""
    assert main(["run", "--stream", "--samples", "20000", "--chunk-size", "1000", "--out", "streamed", "--no-report"]) == 0
    assert main(["run", "--dask", "--samples", "20000", "--chunk-size", "1000", "--out", "dask", "--no-report"]) == 0
    assert "warning" not in capsys.readouterr().err  # the workers run with WORKER_CONFIG
    assert main(["run", "--stream", "--jobs", "2", "--samples", "20000", "--chunk-size", "1000", "--out", "jobs",
                 "--no-report"]) == 0
    streamed, on_dask, in_jobs = (pd.read_csv(project / out / "search_cost" / "summary.csv")
                                  for out in ("streamed", "dask", "jobs"))
    exact = [c for c in streamed.columns if c not in MOMENTS]
    for spread in (on_dask, in_jobs):
        pd.testing.assert_frame_equal(spread[exact], streamed[exact])
        np.testing.assert_allclose(spread[MOMENTS], streamed[MOMENTS], rtol=1e-9)  # CSV: 10 significant digits
    assert sorted(p.name for p in (project / "dask" / "search_cost").iterdir()) == STREAMED


def test_dask_workers_with_a_fixed_mmap_threshold_are_named(search_experiment):
    """Dask's default worker environment halves the speed of summarising; the run says how to start workers."""
    from sim.studies.dask import dask_summary, local_client

    with local_client(1, config={}) as client:
        with pytest.warns(sim.SimWarning, match=r"1 worker\(s\) run with MALLOC_TRIM_THRESHOLD_ set .* "
                                                r"start the workers with MALLOC_MMAP_THRESHOLD_=33554432 set"):
            dask_summary(search_experiment, client, samples=1000, chunk_size=512)


def test_dask_scheduler_that_cannot_be_reached(project, capsys):
    assert main(["run", "--dask", "tcp://127.0.0.1:9", "--samples", "1000"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sim: error: --dask: cannot reach a Dask scheduler at 'tcp://127.0.0.1:9'")
    assert err.count("\n") == 1 and not (project / "outputs").exists()


def test_a_histogram_that_would_outgrow_its_memory_says_so():
    """Values spanning 600 decades (1,993 octaves) at a relative error of 1e-6 (2**19 bins an octave) would need
    7.8 GiB of bins: refused as it grows."""
    import numpy as np

    from sim.errors import SimError
    from sim.studies.stream import LogHistogram

    h = LogHistogram(1, relative_error=1e-6)
    h.add(np.array([[1.0, 2.0]]))
    with pytest.raises(SimError, match=r"--relative-error 1e-06: the values span [0-9,]+ histogram bins per cell "
                                       r"\(7\.79 GiB for one output\), more than the 1 GiB allowed"):
        h.add(np.array([[1e-300, 1e300]]))


def _server(answer: bytes | None):
    """A TCP server on 127.0.0.1 that is not a Dask scheduler: it sends ``answer`` on accepting, or nothing."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    held = []

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # closed by the test
                return
            held.append(conn)
            if answer:
                conn.sendall(answer)

    threading.Thread(target=serve, daemon=True).start()
    return listener, f"tcp://127.0.0.1:{listener.getsockname()[1]}"


@pytest.mark.parametrize("answer, why", [
    # a web server waits for a request line and answers nothing to Dask's binary handshake
    (None, "no Dask handshake within 1 s; is it a Dask scheduler?"),
    # read as a frame length, these bytes asked for 2.82 EiB
    (b"SSH-2.0-OpenSSH_9.2\r\n" * 4, "it answered, but not with a Dask handshake; is it a Dask scheduler?"),
])
def test_dask_at_a_service_that_is_not_a_scheduler_is_one_line(project, capsys, monkeypatch, answer, why):
    import sim.studies.dask

    monkeypatch.setattr(sim.studies.dask, "DASK_TIMEOUT", 1)
    listener, address = _server(answer)
    try:
        assert one_line_error(capsys, ["run", "--dask", address, "--samples", "1000"]) == (
            f"sim: error: --dask: cannot reach a Dask scheduler at '{address}' ({why})")
    finally:
        listener.close()
    assert not (project / "outputs").exists()


def test_dask_at_a_scheduler_address_passes_the_handshake(project, capsys):
    """The handshake check lets a real scheduler through: a cluster of one in-process worker on 127.0.0.1."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://", host="127.0.0.1",
                      dashboard_address=":0") as cluster:
        assert main(["run", "--dask", cluster.scheduler_address, "--samples", "2000", "--no-report"]) == 0
    assert (project / "outputs" / "search_cost" / "summary.csv").exists()
