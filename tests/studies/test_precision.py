
import numpy as np

import sim
from sim.cli import main
from sim.studies.precision import run_to_precision

from ..helpers import write


def test_precision_reached_and_reproducible(search_experiment):
    res = run_to_precision(search_experiment, 0.02, outputs=["cost_per_query"])
    assert res.converged and "precision reached" in res.message
    assert (res.worst["relative_half_width"] < 0.02).all()
    # each round doubled the sample count from 2**13; the previous round had not reached the target
    assert list(res.history["samples"]) == [2**13 * 2**k for k in range(len(res.history))]
    if len(res.history) > 1:
        assert res.history["worst_relative_half_width"].iloc[-2] >= 0.02
    # the result is the ordinary run with the final sample count and the same seed
    again = sim.run(search_experiment, samples=res.samples)
    np.testing.assert_array_equal(res.dataset["cost_per_query"], again["cost_per_query"])


def test_precision_not_reached_says_so(search_experiment):
    res = run_to_precision(search_experiment, 0.001, max_samples=2**14)
    assert not res.converged and res.samples == 2**14
    assert res.message.startswith("precision not reached: maximum of 16,384 samples allowed 16,384")


def test_precision_cli_and_experiment_setting(project, capsys):
    text = (project / "experiments" / "search_cost.toml").read_text()
    write(project / "experiments" / "prec.toml",
          text.replace("[scenarios.baseline]", "[precision]\nrelative = 0.03\noutputs = [\"cost_per_query\"]\n"
                                                "max_samples = 65536\n\n[scenarios.baseline]"))
    assert main(["run", "prec", "--no-report"]) == 0
    out = capsys.readouterr().out
    assert "precision reached" in out
    write(project / "experiments" / "prec_bad.toml", text.replace("[scenarios.baseline]",
                                                                  "[precision]\nrelative = 2\n[scenarios.baseline]"))
    assert main(["run", "prec_bad"]) == 2
    assert "prec_bad.toml: precision.relative: must be a number in (0, 1), such as 0.01, got 2" in capsys.readouterr().err
    assert main(["run", "--precision", "0.01", "--monitor", "cost"]) == 2
    assert "--monitor: unknown output 'cost'; valid: tokens_per_query" in capsys.readouterr().err
    assert main(["run", "--precision", "1.5"]) == 2
    assert "must be a number strictly between 0 and 1" in capsys.readouterr().err
    assert not (project / "outputs" / "search_cost").exists()
