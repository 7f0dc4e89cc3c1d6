"""Hostile inputs to the surfaces added last: user models that misbehave, unit strings, tampered runs, planted
links, odd names and the explorer's typed inputs.

As the command fuzzer (test_fuzz.py), every case runs ``sim`` in process under its time and memory limits and
must exit 0 or exit 2 with one line, no traceback; a case that exits 2 changes nothing, and none changes a file
outside the project's folder (the planted links' targets keep their bytes). Cases are drawn from a seeded
generator (``FUZZ_SEED``).
"""

import json
import os
import random
import shutil
import string

import pytest

from sim.cli import main

from ..helpers import write
from ..models.test_user import MODEL_PY, PRIORS
from .test_fuzz import SEED, _snapshot, check_outcome, run_limited

#: The user-model tests' agent model, its body replaced by one of BODIES.
MODEL = MODEL_PY.replace("import sim", "import numpy as np\nimport sim").replace(
    '    return {"cost": calls * tokens_per_call * usd_per_mtoken / per_m, "revenue": price_per_task}', "    BODY")

#: Bodies of a model that misbehaves in the ways a user's code can.
BODIES = [
    'raise RuntimeError("no tariff")', "return [calls, price_per_task]", "return None", "return {}",
    'return {"cost": price_per_task}', 'return {"cost": price_per_task, "revenue": "a lot"}',
    "return calls * price_per_tsk", 'return {"cost": price_per_task * np.ones(3), "revenue": price_per_task}',
    'return {"cost": np.asarray(price_per_task.values), "revenue": price_per_task}',
    'return {"cost": price_per_task / 0 * calls, "revenue": price_per_task}', "import sys; sys.exit(3)",
    "return 1 / 0", 'return {"cost": price_per_task * calls, "revenue": price_per_task}',
    'return {"cost": price_per_task, "revenue": price_per_task * float("nan")}',
    "return agent(calls=calls, tokens_per_call=tokens_per_call, usd_per_mtoken=usd_per_mtoken, "
    "price_per_task=price_per_task)",
    'return {"cost": price_per_task, "revenue": price_per_task}',
]
UNIT_PARTS = ["USD", "task", "token", "/", "*", "^2", "(", ")", "-", " ", "<", ">", "&", '"', "'", "\n", "$", "%", "é",
              "1e9", "quer", "k", "M", "fraction", "**", "..", "{", "}"]


def _unit(rng: random.Random) -> str:
    text = "".join(rng.choice(UNIT_PARTS) for _ in range(rng.randint(1, 12)))
    return text * rng.choice([1, 1, 1, 40])  # now and then over the 200-character limit


def _run_case(argv: list[str], name: str, capsys, root) -> int:
    """Case ``name`` through the command fuzzer's run and outcome checks."""
    before = _snapshot(root)
    code = run_limited(argv, name)
    out, err = capsys.readouterr()
    after = _snapshot(root)
    changed = {rel for rel in before.keys() | after.keys() if before.get(rel) != after.get(rel)}
    check_outcome(name, code, out, err, changed)
    return code


def test_user_models_units_and_names(tmp_path, monkeypatch, capsys):
    """Misbehaving model files, hostile unit strings and odd file and scenario names through validate and run."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "priors.toml", PRIORS)
    rng = random.Random(SEED * 7)
    codes = []
    for n, body in enumerate(BODIES):  # every body once, through a command drawn for it
        write(tmp_path / "m.py", MODEL.replace("BODY", body))
        write(tmp_path / "m.toml", 'model = { file = "m.py", name = "agent" }\npriors = ["priors.toml"]\n'
                                   'samples = 64\n')
        # every body through a command that imports it, and every fifth through one that must not
        importing = [["validate", "m.toml"], ["run", "m.toml", "--no-report", "--out", "o"], ["point", "m.toml"]]
        commands = [importing[n % 3]]
        commands += [["validate", "--no-import", "m.toml"]] if n % 5 == 0 else []
        for command in commands:
            codes.append(_run_case(command, f"model {n} ({body}): sim {' '.join(command)}", capsys, tmp_path))
    for n in range(25):
        unit = _unit(rng)
        write(tmp_path / "u.toml", PRIORS.replace('"USD/task"', json.dumps(unit), 1))
        write(tmp_path / "x.toml", 'priors = ["u.toml"]\nsamples = 64\n[model.outputs.cost]\nformula = "calls"\n'
                                   f'units = {json.dumps(_unit(rng))}\n')
        codes.append(_run_case(["validate", "u.toml", "x.toml"], f"unit {n}: {unit!r}", capsys, tmp_path))
    odd = ["a\nb", "-x", " lead", "é", "a" * 250, ".hidden", "a b", "..", "ok_name"]
    for n, name in enumerate(odd):
        text = ('priors = ["priors.toml"]\nsamples = 64\n[model.outputs.cost]\nformula = "price_per_task"\n'
                f'units = "USD/task"\n[scenarios.{json.dumps(name)}]\ndescription = "x"\n')
        path = tmp_path / f"s{n}.toml"
        path.write_text(text)
        codes.append(_run_case(["run", path.name, "--no-report", "--out", "o"], f"scenario {name!r}", capsys, tmp_path))
    assert codes.count(0) >= 3 and codes.count(2) >= 20, codes


def test_tampered_runs_and_planted_links(project, tmp_path_factory, capsys):
    """A saved run edited in many ways, and links or FIFOs planted where sim writes: report, decide and sensitivity
    exit 0 or refuse in one line, and a planted link's target keeps its bytes."""
    assert main(["run", "--samples", "300", "--no-report"]) == 0
    capsys.readouterr()
    folder = project / "outputs" / "search_cost"
    pristine = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    target = tmp_path_factory.mktemp("elsewhere") / "precious.txt"
    target.write_text("keep\n")
    rng = random.Random(SEED * 11)
    codes = []
    for n in range(24):
        for name, data in pristine.items():  # the run as sim wrote it, then one tampering
            (folder / name).write_bytes(data)
        for extra in (project / "outputs" / ".search_cost.lock", folder / "decision"):
            if extra.is_symlink() or extra.is_file() or extra.is_fifo():
                extra.unlink()
            elif extra.is_dir():
                shutil.rmtree(extra)
        kind = rng.choice(["byte", "truncate", "json", "seed", "link", "fifo", "none"])
        if kind == "byte":
            name = rng.choice(["samples.nc", "summary.nc"])
            data = bytearray(pristine[name])
            data[rng.randrange(len(data))] ^= 0xFF
            (folder / name).write_bytes(bytes(data))
        elif kind == "truncate":
            name = rng.choice(["samples.nc", "summary.nc", "run.json"])
            (folder / name).write_bytes(pristine[name][: rng.randrange(len(pristine[name]))])
        elif kind == "json":
            record = json.loads(pristine["run.json"])
            key = rng.choice(sorted(record))
            record[key] = rng.choice([None, "", "x" * 50, -1, 1.5, [], {}])
            (folder / "run.json").write_text(json.dumps(record))
        elif kind == "seed":
            record = json.loads(pristine["run.json"])
            record.pop("sha256", None)  # no digests: the attribute itself is read
            (folder / "run.json").write_text(json.dumps(record))
            import xarray as xr

            ds = xr.load_dataset(folder / "samples.nc")
            ds.attrs["seed"] = rng.choice(["12.5", "abc", 1.5])
            ds.to_netcdf(folder / "samples.nc", engine="h5netcdf")
        elif kind == "link":
            rng.choice([project / "outputs" / ".search_cost.lock", folder / "decision"]).symlink_to(target)
        elif kind == "fifo":
            os.mkfifo(project / "outputs" / ".search_cost.lock")
        command = rng.choice([["report", "--no-sensitivity", "--sobol-n", "64"], ["decide"],
                              ["sensitivity", "--method", "rank"]])
        codes.append(_run_case(command, f"case {n} ({kind}): sim {' '.join(command)}", capsys, project))
        assert target.read_text() == "keep\n", f"case {n} ({kind}): the link's target was written"
    assert codes.count(0) >= 2 and codes.count(2) >= 8, codes


def test_the_explorers_typed_inputs(capsys):
    """Random text typed into every box of a card: the page never raises, answers beside the box, and what it
    shows stays finite."""
    pytest.importorskip("bokeh", reason="the explorer needs the explore extra (Bokeh)")
    from bokeh.document import Document

    import sim
    from sim.explorer import Explorer

    from ..helpers import ROOT

    page = Explorer(Document(), sim.load_experiment(ROOT / "experiments" / "search_cost.toml"), samples=2_000)
    rng = random.Random(SEED * 13)
    texts = ["1e308", "-1e308", "nan", "inf", "0", "-0", "1e-320", "", " ", "abc", "<b>x</b>", "1,2", "0.5",
             'dist = "normal", mean = 1, sd = 0.1', 'unit = "percent"', "dist = {}", "{", "x" * 5000, "0x10", "½"]
    for n in range(60):
        card = page.cards[rng.choice(list(page.cards))]
        boxes = [card.pin, card.other, *card.inputs.values()]
        box = rng.choice(boxes)
        text = rng.choice(texts) if rng.random() < 0.8 else "".join(rng.choice(string.printable) for _ in range(20))
        try:
            box.value = text
        except Exception as exc:  # noqa: BLE001 - nothing may escape the page's callbacks
            pytest.fail(f"case {n}: {card.name} <- {text!r}: {type(exc).__name__}: {exc}")
        assert "inf" not in page.measures.text.replace("info", ""), f"case {n}: {text!r}"
        assert "Traceback" not in card.error.text
