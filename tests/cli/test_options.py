"""Options the command line refuses or bounds: one line on stderr, exit status 2, nothing written."""

import pytest

from ..helpers import listing, one_line_error


@pytest.mark.parametrize("argv, message", [
    (["sensitivity", "--percentiles", "50"], "argument --percentiles: must be two percentiles LOW,HIGH in percent, "
                                             "such as 10,90, got '50'"),
    (["sensitivity", "--percentiles", "10,20,30"], "must be two percentiles LOW,HIGH in percent, such as 10,90, "
                                                   "got '10,20,30'"),
    (["sensitivity", "--method", "sobol", "--sobol-n", str(2**40)],
     "--sobol-n 1099511627776: the Sobol' design: its 18,691,697,672,192 model evaluations would need about"),
    (["sensitivity", "--method", "target", "--region", "cost_per_query>inf"],
     "--region: the threshold must be a finite number or a variable of the model, got 'inf'"),
    (["sensitivity", "--method", "target", "--region", "cost_per_query>nan"],
     "--region: the threshold must be a finite number or a variable of the model, got 'nan'"),
    (["decide", "--seek", "cache_hit_rate", "--target", "nan"], "argument --target: must be a finite number, such as "
                                                                "0.9, got 'nan'"),
    (["decide", "--seek", "cache_hit_rate", "--target", "inf"], "argument --target: must be a finite number"),
    (["run", "--samples", "1"], "argument --samples: must be an integer of at least 2 (a standard deviation needs "
                                "two samples), got '1'"),
])
def test_extreme_options_are_one_line_and_write_nothing(saved, capsys, argv, message):
    before = listing(saved)
    assert message in one_line_error(capsys, argv)
    assert listing(saved) == before


@pytest.mark.parametrize("rel", ["1e-300", "1e-9", "1e-12", "0.5"])
def test_relative_error_is_bounded_to_what_the_histogram_represents(project, capsys, rel):
    err = one_line_error(capsys, ["run", "--stream", "--samples", "2000", "--relative-error", rel])
    assert "argument --relative-error: must be a number from 0.0001 to 0.1 (the histogram's bins grow as 1/REL)" in err
    assert not (project / "outputs").exists()


@pytest.mark.parametrize("out, message", [
    ("README.md", "--out README.md: is a file, not a folder; give a folder (it is made if missing)"),
    ("/dev/null", "--out /dev/null: is a file, not a folder; give a folder (it is made if missing)"),
    ("/proc/x", "--out /proc/x: cannot write /proc/x/search_cost ("),
    ("x" * 300, "cannot write " + "x" * 300 + "/search_cost (File name too long); nothing was changed there"),
    ("", "argument --out: must be a folder, such as outputs, got ''"),  # it wrote the run into the current folder
])
def test_bad_out_is_one_line(project, capsys, out, message):
    (project / "README.md").write_text("a file the user keeps\n")
    err = one_line_error(capsys, ["run", "--samples", "200", "--no-report", "--out", out])
    assert message in err, err
    assert (project / "README.md").read_text() == "a file the user keeps\n"
    assert not (project / "outputs").exists()


@pytest.mark.parametrize("address", ["", " ", "tcp://127.0.0.1 :8786"])
def test_an_empty_dask_address_is_refused_not_run_in_memory(project, capsys, address):
    assert one_line_error(capsys, ["run", "--dask", address, "--samples", "1000"]) == (
        f"sim run: error: argument --dask: must be a scheduler's address such as tcp://127.0.0.1:8786, or nothing "
        f"for a local cluster, got {address!r}")
    assert not (project / "outputs").exists()


def test_a_failed_command_leaves_no_output_folder_behind(project, capsys):
    """The hold makes --out to put its lock in; a command that then fails removes it again."""
    assert "--sobol-n must be a power of 2" in one_line_error(capsys, ["run", "--out", "new/deeper", "--sobol-n", "3"])
    assert not (project / "new").exists()


@pytest.mark.parametrize("value", ["0", "-5", "1.5", "ten", ""])
def test_bad_sample_count(project, capsys, value):
    assert one_line_error(capsys, ["run", "--samples", value]) == (
        f"sim run: error: argument --samples: must be an integer of at least 2 (a standard deviation needs two "
        f"samples), got '{value}'")


def test_bad_seed_and_sampler(project, capsys):
    assert one_line_error(capsys, ["run", "--seed", "x"]) == \
        "sim run: error: argument --seed: must be an integer in [0, 2**63), got 'x'"
    assert one_line_error(capsys, ["run", "--sampler", "mc"]) == \
        "sim run: error: argument --sampler: invalid choice: 'mc' (choose from 'random', 'lhs', 'sobol')"
    assert not (project / "outputs").exists()
