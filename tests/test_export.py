"""``sim export``: a run's samples as CSV, Parquet and a spreadsheet, read back equal to the NetCDF samples."""

import re
import sys

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from sim.cli import main

from .helpers import cli, one_line_error

FOLDER = "outputs/search_cost"


@pytest.fixture
def saved(project, capsys):
    """A saved run of the default experiment (3 scenarios x 2 architectures) and its samples as written."""
    assert main(["run", "--samples", "300", "--no-report"]) == 0
    capsys.readouterr()
    with xr.open_dataset(project / FOLDER / "samples.nc", engine="h5netcdf") as ds:
        return ds.load()


def _expected(ds: xr.Dataset, frame: pd.DataFrame, name: str) -> np.ndarray:
    """The variable ``name`` of the run at each row's cell and sample, as the table's rows order them."""
    cells = [d for d in ds.dims if d != "sample"]
    index = {d: xr.DataArray(pd.Index(ds[d].values).get_indexer(frame[d].astype(str)), dims="row") for d in cells}
    index["sample"] = xr.DataArray(frame["sample"].to_numpy(), dims="row")
    da = ds[name].broadcast_like(ds[[v for v in ds.data_vars if "sample" in ds[v].dims]])
    return da.isel(index).values


def _check_table(ds: xr.Dataset, frame: pd.DataFrame, *, rtol: float = 0.0, samples: int | None = None) -> None:
    units = {m["name"]: m["unit"] for c in frame.columns if (m := re.fullmatch(r"(?P<name>\w+) \[(?P<unit>.+)\]", c))}
    inputs_and_outputs = [n for n, v in ds.data_vars.items() if "sample" in v.dims or v.ndim == 0]
    assert sorted(units) == sorted(inputs_and_outputs)
    assert all(units[n] == ds[n].attrs["units"] for n in units)            # the unit of each, in its header
    cells = int(np.prod([ds.sizes[d] for d in ds.dims if d != "sample"]))
    assert len(frame) == cells * (samples or ds.sizes["sample"])           # a row per sample and cell
    frame = frame.rename(columns={f"{n} [{u}]": n for n, u in units.items()})
    for name in units:
        np.testing.assert_allclose(frame[name].to_numpy(), _expected(ds, frame, name), rtol=rtol, atol=0, err_msg=name)


@pytest.mark.parametrize("fmt, read", [("csv", pd.read_csv), ("parquet", pd.read_parquet)])
def test_csv_and_parquet_read_back_equal_the_netcdf_samples(project, capsys, saved, fmt, read):
    """Exactly equal (rtol 0): CSV writes each float's round-tripping text, Parquet its bits."""
    code, out, _ = cli(capsys, "export", "--format", fmt)
    assert code == 0
    path = project / FOLDER / "export" / f"samples.{fmt}"
    assert out.startswith(f"wrote {FOLDER}/export/samples.{fmt}: 300 samples in each of 3 scenario x 2 architecture")
    _check_table(saved, read(path))


def test_the_spreadsheet_opens_with_its_samples_summary_and_provenance(project, capsys, saved):
    """Read back with openpyxl (another library than the one that wrote it). Excel keeps 15 significant digits
    (XlsxWriter writes 17), so the numbers agree to 1e-15 relative rather than to the bit."""
    assert main(["export", "--format", "xlsx", "--max-samples", "120"]) == 0
    sheets = pd.read_excel(project / FOLDER / "export" / "samples.xlsx", sheet_name=None, engine="openpyxl")
    assert list(sheets) == ["samples", "summary", "about"]
    _check_table(saved, sheets["samples"], rtol=1e-15, samples=120)
    assert sheets["summary"].equals(pd.read_csv(project / FOLDER / "summary.csv")) or \
        np.allclose(sheets["summary"].select_dtypes("number"), pd.read_csv(project / FOLDER / "summary.csv")
                    .select_dtypes("number"), rtol=1e-15, equal_nan=True)
    about = dict(zip(sheets["about"]["field"], sheets["about"]["value"].astype(str)))
    assert about["samples in the run"] == "300" and about["samples per cell here"] == "120"
    assert about["make it again"].startswith("sim run experiments/search_cost.toml --samples 300")


def test_the_api_gives_the_same_table(saved, tmp_path):
    import sim

    table = sim.samples_table(saved)
    _check_table(saved, table)
    path = sim.export_samples(saved, tmp_path / "s.csv")
    pd.testing.assert_frame_equal(pd.read_csv(path), table, check_exact=True)


def test_an_export_of_an_earlier_run_is_removed_with_it(project, capsys, saved):
    assert main(["export"]) == 0
    code, _, err = cli(capsys, "run", "--samples", "400", "--no-report")
    assert code == 0 and f"removed {FOLDER}/export: it was made from the run of 300 samples" in err
    assert not (project / FOLDER / "export").exists()


def test_export_errors_are_one_line(project, capsys, saved, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if pyarrow were not installed
    err = one_line_error(capsys, ["export", "--format", "parquet"])
    assert err == "sim: error: --format parquet needs the pyarrow package: pip install pyarrow (or the project's " \
                  "export extra, pip install -e '.[export]')"
    assert not (project / FOLDER / "export").exists()  # nothing written
    assert "invalid choice: 'json'" in one_line_error(capsys, ["export", "--format", "json"])


def test_export_without_a_run_says_how_to_make_one(project, capsys):
    err = one_line_error(capsys, ["export", "agent_task"])
    assert "sim run experiments/agent_task.toml" in err, err


def test_a_spreadsheet_too_long_for_excel_is_refused(tmp_path):
    import sim

    ds = xr.Dataset({"y": (("cell", "sample"), np.zeros((200, 6000)), {"units": "USD"})},
                    coords={"cell": [f"c{i}" for i in range(200)], "sample": np.arange(6000)})
    with pytest.raises(sim.SimError, match=r"^--max-samples: 6,000 samples of 200 cells make 1,200,000 rows; a "
                                           r"spreadsheet holds at most 1,048,575: give at most 5,242, or use csv"):
        sim.export_samples(ds, tmp_path / "s.xlsx")
    assert not (tmp_path / "s.xlsx").exists()
