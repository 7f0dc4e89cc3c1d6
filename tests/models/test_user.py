"""Open models: a user's own Python model (module, file or installed entry point), roles in every command,
and sim's own models declared the same way with the same numbers as before."""

import hashlib
import json
import pickle
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import sim
from sim.cli import main
from sim.models import MODELS, search

from ..helpers import ROOT, cli, one_line_error, write

MODEL_PY = '''
import sim

@sim.model(outputs={
    "cost": sim.Output("USD/task", "cost per task", role="cost"),
    "revenue": sim.Output("USD/task", "revenue per task", role="revenue"),
})
def agent(*, calls, tokens_per_call, usd_per_mtoken, price_per_task, per_m=sim.Constant(1e6, "token/Mtoken")):
    """A toy agent task."""
    return {"cost": calls * tokens_per_call * usd_per_mtoken / per_m, "revenue": price_per_task}

def not_a_model(*, calls):
    return {}
'''

PRIORS = '''
[priors.calls]
dist = "lognormal"
ci90 = [5, 50]
point = 15
unit = "calls/task"
note = "n"

[priors.tokens_per_call]
dist = "lognormal"
ci90 = [5000, 50000]
point = 15000
unit = "tokens/call"
note = "n"

[priors.usd_per_mtoken]
dist = "uniform"
low = 0.5
high = 5
point = 1.25
unit = "USD/Mtoken"
note = "n"

[priors.price_per_task]
dist = "uniform"
low = 0.1
high = 1.5
point = 0.5
unit = "USD/task"
note = "n"
'''



@pytest.fixture
def user(tmp_path, monkeypatch):
    """A folder with a user's package on sys.path, a model file and priors (the cwd)."""
    write(tmp_path / "mypkg" / "__init__.py", "")
    write(tmp_path / "mypkg" / "models.py", MODEL_PY)
    write(tmp_path / "models" / "agent.py", MODEL_PY)
    write(tmp_path / "priors.toml", PRIORS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def experiment(folder: Path, model_line: str, name: str = "exp", extra: str = "") -> str:
    write(folder / f"{name}.toml", f'{model_line}\npriors = ["priors.toml"]\nsamples = 512\nseed = 5\n{extra}')
    return f"{name}.toml"


def test_model_from_an_importable_module(user, capsys):
    path = experiment(user, 'model = "mypkg.models:agent"')
    assert main(["run", path, "--no-report"]) == 0, capsys.readouterr().err
    ds = xr.open_dataset(user / "outputs" / "exp" / "samples.nc")
    expect = ds["calls"] * ds["tokens_per_call"] * ds["usd_per_mtoken"] / 1e6
    np.testing.assert_array_equal(ds["cost"].values.ravel(), expect.values)
    assert ds["cost"].attrs["role"] == "cost" and ds.attrs["model_source"] == "mypkg.models:agent"
    record = json.loads((user / "outputs" / "exp" / "inputs" / "record.json").read_text())
    assert record["model"]["module_file"].endswith("mypkg/models.py")
    assert record["model"]["module_sha256"] == hashlib.sha256((user / "mypkg" / "models.py").read_bytes()).hexdigest()


def test_model_from_a_file_is_recorded_and_reproduced_from_the_copies(user, capsys):
    path = experiment(user, 'model = { file = "models/agent.py", name = "agent" }')
    assert main(["run", path, "--no-report"]) == 0, capsys.readouterr().err
    folder = user / "outputs" / "exp"
    record = json.loads((folder / "inputs" / "record.json").read_text())
    copied = {e["path"]: e for e in record["files"]}
    assert copied["models/agent.py"]["sha256"] == hashlib.sha256(MODEL_PY.encode()).hexdigest()
    assert (folder / "inputs" / "models" / "agent.py").read_text() == MODEL_PY
    # the originals change; the command from the copies still gives the same samples bit for bit
    (user / "models" / "agent.py").write_text(MODEL_PY.replace("/ per_m", "/ per_m * 2"))
    again = shlex.split(record["command_from_record"].replace("OUT", str(user / "again")))
    assert main(again[1:]) == 0, capsys.readouterr().err
    a = xr.open_dataset(folder / "samples.nc")
    b = xr.open_dataset(user / "again" / "exp" / "samples.nc")
    np.testing.assert_array_equal(a["cost"].values, b["cost"].values)
    # and the saved run is stale against the changed model: its hash covers the model file
    assert "was made with priors hash" in one_line_error(capsys, ["report", path])


def test_model_file_runs_from_another_folder_and_pickles(user, tmp_path_factory, monkeypatch):
    path = user / experiment(user, 'model = { file = "models/agent.py", name = "agent" }')
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    exp = sim.load_experiment(path)
    again = pickle.loads(pickle.dumps(exp))  # how Dask sends it to a worker: loaded again from its file
    np.testing.assert_array_equal(sim.run(exp, samples=64)["cost"].values, sim.run(again, samples=64)["cost"].values)


@pytest.mark.parametrize("model_line, message", [
    ('model = "mypkg.nothere:agent"', "model: cannot import 'mypkg.nothere' for model 'mypkg.nothere:agent': "
                                      "ModuleNotFoundError: No module named 'mypkg.nothere'"),
    ('model = "mypkg.models:agnet"', "model: module 'mypkg.models' has no 'agnet'; models in it: agent"),
    ('model = "mypkg.models:not_a_model"', "model: 'mypkg.models:not_a_model' is a function, not a model; declare it "
                                           "with @sim.model(outputs={...}) over a function of keyword arguments"),
    ('model = "mypkg models:agent"', "model: 'mypkg models:agent' is not a module reference; write "
                                     "\"package.module:name\""),
    ('model = { file = "models/nothere.py", name = "agent" }', "model.file: model file 'models/nothere.py' not found"),
    ('model = { file = "priors.toml", name = "agent" }', "model.file: model file 'priors.toml' must be a Python file "
                                                         "ending in .py"),
    ('model = { file = "models/agent.py", name = "agnet" }', "model.name: 'models/agent.py' has no 'agnet'; models in "
                                                             "it: agent"),
    ('model = { file = "models/agent.py", name = "not_a_model" }', "model.name: 'not_a_model' in 'models/agent.py' is "
                                                                   "a function, not a model"),
    ('model = { file = "models/agent.py" }', "model.name: must name the model in 'models/agent.py' (a Python name), "
                                             "got None"),
    ('model = { file = "models/agent.py", name = "agent", cls = 1 }', "model.cls: unknown key for a model file; valid: "
                                                                      "file, name"),
    ('model = { file = "models/broken.py", name = "agent" }', "model.file: model file 'models/broken.py' failed to "
                                                              "import: ZeroDivisionError: division by zero "
                                                              "(broken.py, line 3)"),
    ('model = 3', "model: must be a model name, \"package.module:name\", a table"),
])
def test_bad_model_reference_is_one_line(user, capsys, model_line, message):
    write(user / "models" / "broken.py", "import sim\n\nx = 1 / 0\n")
    path = experiment(user, model_line, name="bad")
    err = one_line_error(capsys, ["run", path, "--samples", "10"])
    assert err.startswith(f"sim: error: {path}: {message}"), err
    assert not (user / "outputs").exists()


@pytest.mark.parametrize("body, message", [
    ('raise RuntimeError("no tariff for this region")',
     "failed while evaluating: RuntimeError: no tariff for this region (agent.py, line 11)"),
    ("return calls * tokens_per_cal", "failed while evaluating: NameError: name 'tokens_per_cal' is not defined "
                                      "(agent.py, line 11)"),
    ("return [calls, price_per_task]", "returned list; a model returns a dict of its outputs by name: cost, revenue"),
    ('return {"cost": calls * tokens_per_call * usd_per_mtoken / per_m * np.ones(3), "revenue": price_per_task}',
     "failed while evaluating: ValueError: operands could not be broadcast together"),
    ('return {"cost": np.asarray(calls), "revenue": price_per_task}', "model 'agent': output cost gives 1, declared "
                                                                      "USD/task"),
    ('return {"cost": np.asarray(calls.values), "revenue": price_per_task}',
     "model 'agent' drops the units of an input (np.asarray, .values or .magnitude of a quantity)"),
])
def test_a_python_model_that_misbehaves_is_one_line_naming_its_line(user, capsys, body, message):
    """A model that raises, misspells a name, returns a list or an array of the wrong shape, or strips its inputs'
    units: sim validate (where the points show it) and sim run say so in one line, with the model file's line."""
    code = MODEL_PY.replace("import sim", "import numpy as np\nimport sim").replace(
        '    return {"cost": calls * tokens_per_call * usd_per_mtoken / per_m, "revenue": price_per_task}',
        f"    {body}")
    write(user / "models" / "odd.py", code)
    path = experiment(user, 'model = { file = "models/odd.py", name = "agent" }', name="odd")
    commands = [["run", path, "--no-report"]] + ([] if "broadcast" in message else [["validate", path]])
    for command in commands:
        err = one_line_error(capsys, command)
        assert message.replace("agent.py", "odd.py") in err, err
    assert not (user / "outputs").exists()


def test_model_input_that_no_priors_file_defines(user, capsys):
    write(user / "priors.toml", PRIORS.replace("[priors.price_per_task]", "[priors.price_per_tusk]"))
    path = experiment(user, 'model = "mypkg.models:agent"', name="bad")
    assert one_line_error(capsys, ["validate", path]) == (
        f"sim: error: {path}: priors: model 'agent' needs prior(s) price_per_task that no priors file defines "
        f"(priors.toml); they define: calls, tokens_per_call, usd_per_mtoken, price_per_tusk")


def test_entry_point_models_are_listed_and_run(user, tmp_path, monkeypatch, capsys):
    """An installed package offers models through the entry-point group sim.models."""
    site = tmp_path / "site"
    write(site / "agentpkg.py", MODEL_PY)
    write(site / "agentpkg-0.1.dist-info" / "METADATA", "Metadata-Version: 2.1\nName: agentpkg\nVersion: 0.1\n")
    write(site / "agentpkg-0.1.dist-info" / "entry_points.txt", "[sim.models]\ntoy_agent = agentpkg:agent\n")
    monkeypatch.syspath_prepend(str(site))
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "toy_agent: A toy agent task. [entry point toy_agent]" in out
    assert re.search(r"cost +USD/task +cost per task +role: cost", out)
    path = experiment(user, 'model = "toy_agent"')
    assert main(["run", path, "--no-report"]) == 0, capsys.readouterr().err
    ds = xr.open_dataset(user / "outputs" / "exp" / "samples.nc")
    assert ds.attrs["model"] == "toy_agent" and ds.attrs["model_source"] == "entry point toy_agent"


def test_models_command_lists_sim_models_with_units_and_roles(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in MODELS:
        assert re.search(rf"^{name}: .* \[sim\]$", out, flags=re.M), name
    assert re.search(r"^  cost_per_query +USD/query +provider's cost per query  role: cost$", out, flags=re.M)
    assert "constants: answers_per_result = 1 answer/result, tokens_per_ktoken = 1000 token/ktoken" in out
    assert main(["models", str(ROOT / "experiments" / "agent_task.toml")]) == 0
    assert "agent_task: Cost of an agentic coding task" in capsys.readouterr().out


# --- roles in every command ---------------------------------------------------------------------------------------

TWO_COSTS = '''
priors = ["priors.toml"]
samples = 256
[model.outputs.cost_a]
formula = "usd_per_mtoken * 2"
units = "USD/Mtoken"
role = "cost"
[model.outputs.cost_b]
formula = "usd_per_mtoken * 3"
units = "USD/Mtoken"
role = "cost"
[model.outputs.income]
formula = "usd_per_mtoken * 2.5"
units = "USD/Mtoken"
role = "revenue"
'''


@pytest.mark.parametrize("args, message", [
    (["decide", "two.toml"], "model 'two' has 2 outputs with role cost (cost_a, cost_b); choose one with --cost"),
    (["sensitivity", "two.toml"], "model 'two' has 2 outputs with role cost (cost_a, cost_b); choose one with --output"),
    (["run", "two.toml"], "model 'two' has 2 outputs with role cost (cost_a, cost_b); choose one with --output"),
])
def test_two_outputs_with_one_role_ask_for_a_choice(user, capsys, args, message):
    write(user / "two.toml", TWO_COSTS)
    assert one_line_error(capsys, args).endswith(message)
    assert not (user / "outputs").exists()


def test_two_costs_run_with_a_choice(user, capsys):
    write(user / "two.toml", TWO_COSTS)
    assert main(["run", "two.toml", "--no-report"]) == 0  # no report: nothing to choose
    assert main(["decide", "two.toml", "--cost", "cost_b"]) == 0
    d = xr.open_dataset(user / "outputs" / "two" / "decision" / "decision.nc")
    assert d.attrs["cost"] == "cost_b" and d.attrs["revenue"] == "income"
    assert d["p_profitable"].item() == 0.0  # 3 x the price against 2.5 x: never profitable
    summary = (user / "outputs" / "two" / "summary.csv").read_text()
    assert "p_gt_income" in summary  # each cost is compared with the revenue


def test_model_with_no_revenue(capsys):
    err = one_line_error(capsys, ["decide", str(ROOT / "experiments" / "training_cost.toml")])
    assert err.endswith("model 'training' has no output with role revenue, so there is no deploy-or-not decision to "
                        "make (outputs: training_flops, training_chip_hours, training_cost, training_memory_bytes, "
                        "min_accelerators); name one with --revenue to compare a cost with it")


def test_every_command_on_a_formula_model_and_a_user_file_model(tmp_path, monkeypatch, capsys):
    """run (with its report), report, sensitivity, decide (with stress and seek), --precision, --stream, point,
    validate and models, on the agent-task formula model and the user's Python model example."""
    monkeypatch.chdir(tmp_path)
    for path, prior in ((ROOT / "experiments" / "agent_task.toml", "cache_hit_rate"),
                        (ROOT / "examples" / "user_model" / "experiment.toml", "resolution_rate")):
        out = ["--out", str(tmp_path / "o")]
        name = sim.load_experiment(path).name
        folder = tmp_path / "o" / name
        steps = [(["run", path, "--samples", "2000", "--sobol-n", "256", *out], "report.html"),
                 (["report", path, "--no-sensitivity", *out], "report.md"),
                 (["sensitivity", path, "--sobol-n", "256", *out], "sensitivity/sensitivity.csv"),
                 (["decide", path, "--stress", prior, "0", "10", "--seek", prior, "--target", "0.5", "--select",
                   f"scenario={sim.load_experiment(path).scenario_names[0]}", *out],
                  "decision/goal_seek.csv"),
                 (["run", path, "--precision", "0.05", "--no-report", *out], "samples.nc"),
                 (["run", path, "--samples", "4096", "--stream", *out], "summary.csv"),
                 (["point", path], None), (["validate", str(path)], None), (["models", str(path)], None)]
        for args, written in steps:
            code = main([str(a) for a in args])
            assert code == 0, (args, capsys.readouterr().err)
            assert written is None or (folder / written).is_file(), (args, written)
    capsys.readouterr()


def test_dask_on_a_formula_model(tmp_path, capsys):
    """The formula model pickles to Dask workers by its source; the numbers are --stream's."""
    pytest.importorskip("distributed")
    path = str(ROOT / "experiments" / "agent_task.toml")
    assert main(["run", path, "--samples", "65536", "--stream", "--out", str(tmp_path / "a")]) == 0
    assert main(["run", path, "--samples", "65536", "--dask", "--out", str(tmp_path / "b")]) == 0
    a = (tmp_path / "a" / "agent_task" / "summary.csv").read_text().splitlines()
    b = (tmp_path / "b" / "agent_task" / "summary.csv").read_text().splitlines()
    assert len(a) == len(b)
    import pandas as pd

    fa, fb = pd.read_csv(tmp_path / "a" / "agent_task" / "summary.csv"), pd.read_csv(tmp_path / "b" / "agent_task" / "summary.csv")
    np.testing.assert_allclose(fa.select_dtypes("number").values, fb.select_dtypes("number").values, rtol=1e-12)
    capsys.readouterr()


# --- sim's own models ---------------------------------------------------------------------------------------------

def test_nothing_outside_models_names_the_search_models_outputs_or_priors():
    names = sorted(set(search.MODEL.outputs) | set(search.MODEL.inputs))
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
    hits = [f"{p.relative_to(ROOT)}:{i}: {line.strip()}" for p in sorted((ROOT / "sim").rglob("*"))
            if p.is_file() and "models" not in p.relative_to(ROOT / "sim").parts and p.suffix not in (".pyc",)
            for i, line in enumerate(p.read_text(errors="replace").splitlines(), 1) if pattern.search(line)]
    assert hits == []


def test_sim_models_are_declared_with_units_and_roles():
    for m in MODELS.values():
        assert m.inputs and m.outputs and m.source == "sim", m.name
        assert all(out.units and out.long_name for out in m.outputs.values())
    assert MODELS["search"].comparisons == (("cost_per_query", "revenue_per_query"),)
    assert MODELS["training"].with_role("cost") == ["training_cost"]
    assert MODELS["scaling"].with_role("cost") == []


def test_model_declared_from_a_signature():
    @sim.model(outputs={"y": sim.Output("USD", "y", role="cost")})
    def f(*, a, b, k=sim.Constant(2.0, "USD")):
        """Doc line."""
        return {"y": a * b * k}

    assert f.inputs == ("a", "b") and dict(f.constants) == {"k": 2.0} and f.description == "Doc line."
    assert f(a=2.0, b=3.0)["y"] == 12.0  # still callable as the function
    with pytest.raises(TypeError, match=r"parameter 'a' must be keyword-only"):
        sim.model(outputs={"y": ("1", "y")})(lambda a: {"y": a})
    with pytest.raises(TypeError, match=r"parameter 'k' has a default that is not a sim.Constant"):
        @sim.model(outputs={"y": ("1", "y")})
        def g(*, k=3.0):
            return {"y": k}
    with pytest.raises(ValueError, match=r"unknown role 'profit'; valid: cost, revenue, volume or None"):
        sim.Output("USD", "y", role="profit")


def test_module_entry_point_subprocess_runs_the_user_example(tmp_path):
    """As the README shows it: from the project folder, sim run on the example experiment."""
    result = subprocess.run([sys.executable, "-m", "sim", "run", "examples/user_model/experiment.toml", "--samples",
                             "1000", "--no-report", "--out", str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "experiment" / "inputs" / "support_bot.py").is_file()


def test_validate_no_import_checks_the_rest_without_running_the_model(user, capsys):
    """A model file whose import would leave a mark: sim validate imports it (and says so in its help); with
    --no-import nothing of it runs, and a bad prior elsewhere is still found."""
    write(user / "models" / "marks.py", "import pathlib\npathlib.Path('imported').write_text('ran')\n" + MODEL_PY)
    path = experiment(user, 'model = { file = "models/marks.py", name = "agent" }', name="marks")
    code, out, err = cli(capsys, "validate", "--no-import", path)
    assert code == 0 and "Python model models/marks.py:agent not imported (its inputs, outputs and units " \
                         "unchecked)" in out, err
    assert not (user / "imported").exists()
    (user / "priors.toml").write_text(PRIORS.replace('dist = "uniform"\nlow = 0.5', 'dist = "uniform"\nlow = 9'))
    assert "priors.toml: priors.usd_per_mtoken" in one_line_error(capsys, ["validate", "--no-import", path])
    assert not (user / "imported").exists()
    (user / "priors.toml").write_text(PRIORS)
    assert main(["validate", path]) == 0 and (user / "imported").read_text() == "ran"


def test_a_model_file_outside_the_experiments_folder_needs_an_opt_in(user, tmp_path_factory, capsys, monkeypatch):
    """model = { file = "/elsewhere/agent.py" }: refused in one line before anything is imported, unless
    SIM_ALLOW_OUTSIDE_MODELS=1; then the run is as from a file beside the experiment. A relative path (a project's
    models/ beside its experiments/) and an absolute path inside the folder need no opt-in."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    write(elsewhere / "agent.py", MODEL_PY)
    reference = str(elsewhere / "agent.py")
    path = experiment(user, f'model = {{ file = "{reference}", name = "agent" }}', name="far")
    err = one_line_error(capsys, ["run", path])
    assert f"far.toml: model.file: model file {reference!r} is an absolute path outside the experiment's folder; " \
           "sim runs such a file's code only if you opt in: set SIM_ALLOW_OUTSIDE_MODELS=1, or give a path " \
           "relative to the experiment" in err, err
    assert not (user / "outputs").exists()
    for near in ("../" + elsewhere.name + "/agent.py", str(user / "models" / "agent.py")):
        assert main(["validate", experiment(user, f'model = {{ file = "{near}", name = "agent" }}', name="near")]) == 0
    monkeypatch.setenv("SIM_ALLOW_OUTSIDE_MODELS", "1")
    assert main(["run", path, "--no-report"]) == 0, capsys.readouterr().err
