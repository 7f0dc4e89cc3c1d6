"""Monte Carlo intervals, rank correlation, precision control (issue: uncertainty and sensitivity)."""

import numpy as np
import pytest
import xarray as xr
from scipy import stats

import sim
from sim.cli import main as cli_main
from sim.studies.precision import run_to_precision
from sim.analysis.summary import exceedance_interval, interval, jeffreys_interval, mc_interval
from sim.errors import ConfigError

from .conftest import write


def _as_run(values: np.ndarray) -> xr.Dataset:
    da = xr.DataArray(values, dims=("sample",), attrs={"role": "output", "units": "1"})
    return xr.Dataset({"y": da})


def test_interval_coverage_lognormal_product():
    """95 % intervals of the mean and median of a product of lognormals cover the truth in 90-99 % of 200 seeds.

    log Y = log A + log B with A ~ LN(0, 0.5), B ~ LN(0.3, 0.8): Y ~ LN(0.3, sqrt(0.89)), so the median
    is exp(0.3) and the mean exp(0.3 + 0.89 / 2). With 200 seeds the count of covering intervals is
    Binomial(200, 0.95): 90-99 % is about -3.2 to +2.6 standard deviations, so a correct interval fails
    this test with probability below 0.01.
    """
    sigma2 = 0.5**2 + 0.8**2
    true_mean, true_median = np.exp(0.3 + sigma2 / 2), np.exp(0.3)
    covered = np.zeros(2)
    for seed in range(200):
        rng = np.random.default_rng(seed)
        y = rng.lognormal(0.0, 0.5, 4000) * rng.lognormal(0.3, 0.8, 4000)
        ci = mc_interval(_as_run(y), quantiles=(0.5,))["y"]
        covered[0] += ci.sel(stat="mean", ci_bound="lower") <= true_mean <= ci.sel(stat="mean", ci_bound="upper")
        covered[1] += ci.sel(stat="p50", ci_bound="lower") <= true_median <= ci.sel(stat="p50", ci_bound="upper")
    assert np.all((covered / 200 >= 0.90) & (covered / 200 <= 0.99)), covered


def test_exceedance_interval_coverage():
    """The Jeffreys interval of P(Y > t) covers the true probability in 90-99 % of 200 seeds (as above)."""
    p_true = stats.norm.sf(1.5)
    hits = 0
    for seed in range(200):
        ds = _as_run(np.random.default_rng(seed).standard_normal(2000))
        ci = exceedance_interval(ds, "y", 1.5)
        hits += float(ci.sel(ci_bound="lower")) <= p_true <= float(ci.sel(ci_bound="upper"))
    assert 0.90 <= hits / 200 <= 0.99
    assert ci.attrs["probability"] == 0.95


def test_jeffreys_edges():
    lo, hi = jeffreys_interval(np.array([0, 50]), 50).T
    assert lo[0] == 0.0 and hi[1] == 1.0 and 0 < hi[0] < 0.1 and 0.9 < lo[1] < 1


def test_quantile_interval_brackets_the_estimate_and_narrows():
    rng = np.random.default_rng(3)
    widths = []
    for n in (1_000, 100_000):
        ds = _as_run(rng.standard_normal(n))
        ci = mc_interval(ds)["y"]
        est = sim.summarize(ds)["y"]
        for stat in ("p05", "p25", "p50", "p75", "p95"):
            assert ci.sel(stat=stat, ci_bound="lower") <= est.sel(stat=stat) <= ci.sel(stat=stat, ci_bound="upper")
        widths.append(float(ci.sel(stat="p50", ci_bound="upper") - ci.sel(stat="p50", ci_bound="lower")))
    # the width shrinks like 1/sqrt(n): 10x for 100x the samples, within sampling noise
    assert 7 < widths[0] / widths[1] < 14


def test_eti_and_hdi():
    ds = _as_run(np.random.default_rng(0).exponential(1.0, 200_000))
    eti = interval(ds, 0.9)["y"]
    hdi = interval(ds, 0.9, kind="hdi")["y"]
    # exponential: ETI = [-log 0.95, -log 0.05]; HDI = [0, -log 0.1] (the density falls from 0)
    np.testing.assert_allclose(eti, [-np.log(0.95), -np.log(0.05)], rtol=0.02)
    np.testing.assert_allclose(hdi, [0.0, -np.log(0.1)], atol=0.02)
    assert interval(ds, 0.9, kind="hdi").attrs["probability"] == 0.9
    with pytest.raises(ValueError, match="unknown interval kind 'mode'; valid: eti, hdi"):
        interval(ds, kind="mode")
    with pytest.raises(ValueError, match=r"probability must lie in \(0, 1\), got 1.5"):
        interval(ds, 1.5)


# --- correlated priors ------------------------------------------------------

CORRELATED = """
model = "search"
priors = ["../priors/seed_2023.toml"]
samples = 10000
seed = 11
sampler = "{sampler}"
[correlations]
{body}
"""


def _experiment(project, body, sampler="random", name="corr"):
    path = write(project / "experiments" / f"{name}.toml", CORRELATED.format(body=body, sampler=sampler))
    return sim.load_experiment(path)


@pytest.mark.parametrize("sampler", ["random", "lhs", "sobol"])
def test_rank_correlation_reached_and_marginals_kept(project, sampler):
    body = ('names = ["cache_hit_rate", "provider_gross_margin", "response_words"]\n'
            "matrix = [[1, 0.6, -0.3], [0.6, 1, 0.0], [-0.3, 0.0, 1]]")
    exp = _experiment(project, body, sampler)
    n = 8192 if sampler == "sobol" else 10_000
    ds = sim.run(exp, samples=n)
    # target within 0.02: the sampling sd of Spearman's rho at n = 10,000 is below 0.01
    rho = lambda a, b: stats.spearmanr(ds[a], ds[b])[0]  # noqa: E731
    assert rho("cache_hit_rate", "provider_gross_margin") == pytest.approx(0.6, abs=0.02)
    assert rho("cache_hit_rate", "response_words") == pytest.approx(-0.3, abs=0.02)
    assert rho("provider_gross_margin", "response_words") == pytest.approx(0.0, abs=0.02)
    # marginals unchanged: the draws' percentiles match the prior's (the Kolmogorov-Smirnov distance of
    # 10,000 draws from their own distribution is below 0.017 with probability 0.99)
    for name in ("cache_hit_rate", "provider_gross_margin", "response_words"):
        prior = exp.base_priors[name]
        u = np.linspace(0.01, 0.99, 99)
        values = prior.ppf(u)
        emp = (ds[name].values[:, None] <= values).mean(axis=0)
        assert np.max(np.abs(emp - u)) < 0.017, name
    # an uncorrelated prior keeps exactly its draws
    plain = sim.run(sim.load_experiment(project / "experiments" / "search_cost.toml"), samples=n, seed=11,
                    sampler=sampler)
    if sampler != "sobol":  # Sobol' draws are joint over the drawn priors; the others are per prior
        np.testing.assert_array_equal(ds["section_words"], plain["section_words"])
    assert "cache_hit_rate ~ provider_gross_margin: 0.6" in ds.attrs["rank_correlations"]


def test_correlation_changes_priors_hash_and_chunking_does_not_matter(project):
    exp = _experiment(project, 'pairs = [["cache_hit_rate", "provider_gross_margin", 0.5]]')
    plain = sim.load_experiment(project / "experiments" / "search_cost.toml")
    assert exp.priors_hash() != sim.load_experiment(
        write(project / "experiments" / "plain.toml", CORRELATED.format(body="", sampler="random")
              .replace("[correlations]", ""))).priors_hash()
    a = sim.run(exp, samples=3000)
    b = sim.run(exp, samples=3000, chunk_size=700)
    np.testing.assert_array_equal(a["cost_per_query"], b["cost_per_query"])
    assert plain.correlation is None


def test_correlations_in_a_priors_file(project):
    text = (project / "priors" / "seed_2023.toml").read_text()
    write(project / "priors" / "seed_2023.toml",
          text + '\n[correlations]\npairs = [["prompt_words", "section_words", -0.4], '
                 '["results_k", "section_words", -0.4]]\n')
    exp = sim.load_experiment(project / "experiments" / "search_cost.toml")
    assert exp.correlation.pairs() == {("prompt_words", "section_words"): -0.4, ("results_k", "section_words"): -0.4}
    ds = sim.run(exp, samples=10_000)
    assert stats.spearmanr(ds["prompt_words"], ds["section_words"])[0] == pytest.approx(-0.4, abs=0.02)
    # results_k takes five values: its ties weaken the rank correlation the copula can give (documented)
    assert -0.4 < stats.spearmanr(ds["results_k"], ds["section_words"])[0] < -0.3


@pytest.mark.parametrize("body, message", [
    ('pairs = [["cache_hit_rate", "provider_gross_margin", 1.5]]',
     r"correlations.pairs\[0\]: a rank correlation must lie in \[-1, 1\], got 1.5"),
    ('pairs = [["cache_hit_rate", "no_such_prior", 0.5]]',
     r"correlations.pairs\[0\]: no prior named 'no_such_prior'; the priors here are: prompt_words"),
    ('pairs = [["cache_hit_rate", "cache_hit_rate", 0.5]]', "pairs 'cache_hit_rate' with itself"),
    ('pairs = [["cache_hit_rate", "api_price_per_1k_tokens", 0.5]]',
     "prior 'api_price_per_1k_tokens' is fixed; only drawn priors can be correlated"),
    ('names = ["cache_hit_rate", "provider_gross_margin"]\nmatrix = [[1, 0.5], [0.4, 1]]',
     r"correlations.matrix\[1\]\[0\]: the matrix must be symmetric: \[1\]\[0\] = 0.4 but \[0\]\[1\] = 0.5"),
    ('names = ["cache_hit_rate", "provider_gross_margin"]\nmatrix = [[1, 0.5], [0.5, 0.9]]',
     r"correlations.matrix\[1\]\[1\]: the diagonal must be 1, got 0.9"),
    ('pairs = [["cache_hit_rate", "provider_gross_margin", 0.9], ["cache_hit_rate", "response_words", 0.9], '
     '["provider_gross_margin", "response_words", -0.9]]',
     "correlations: the rank correlations among cache_hit_rate, provider_gross_margin, response_words are "
     r"inconsistent \(the matrix is not positive semi-definite: smallest eigenvalue -0.816\)"),
    ('pairs = [["cache_hit_rate", "provider_gross_margin", "high"]]',
     r"correlations.pairs\[0\]: must be a number, got 'high'"),
])
def test_bad_correlations(project, body, message):
    with pytest.raises(ConfigError, match=message):
        _experiment(project, body)


def test_bad_correlation_cli_one_line_nothing_written(project, capsys):
    _experiment(project, 'pairs = [["cache_hit_rate", "provider_gross_margin", 0.5]]')
    write(project / "experiments" / "bad.toml", CORRELATED.format(
        body='pairs = [["cache_hit_rate", "provider_gross_margin", -2]]', sampler="random"))
    code = cli_main(["run", "bad"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("sim: error: experiments/bad.toml: correlations.pairs[0]: a rank correlation must lie")
    assert not (project / "outputs").exists()


# --- precision control --------------------------------------------------------

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
    assert cli_main(["run", "prec", "--no-report"]) == 0
    out = capsys.readouterr().out
    assert "precision reached" in out
    write(project / "experiments" / "prec_bad.toml", text.replace("[scenarios.baseline]",
                                                                  "[precision]\nrelative = 2\n[scenarios.baseline]"))
    assert cli_main(["run", "prec_bad"]) == 2
    assert "prec_bad.toml: precision.relative: must be a number in (0, 1), such as 0.01, got 2" in capsys.readouterr().err
    assert cli_main(["run", "--precision", "0.01", "--monitor", "cost"]) == 2
    assert "--monitor: unknown output 'cost'; valid: tokens_per_query" in capsys.readouterr().err
    assert cli_main(["run", "--precision", "1.5"]) == 2
    assert "must be a number strictly between 0 and 1" in capsys.readouterr().err
    assert not (project / "outputs" / "search_cost").exists()
