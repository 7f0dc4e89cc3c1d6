"""Catalogues (sim.catalogue): accelerators, offerings and models as data, swept into the inputs a model binds."""

import pytest
import xarray as xr

import sim
from sim.catalogue import catalogue_kind, load_catalogue, sweep_inputs
from sim.errors import ConfigError
from sim.models import CATALOGUE, Field

from .helpers import ROOT

CATALOGUES = ROOT / "priors" / "catalogues"


def test_each_catalogue_loads_and_says_what_it_is():
    import tomllib

    for kind in ("accelerators", "offerings", "models"):
        entries = load_catalogue(CATALOGUES, kind)
        assert entries and catalogue_kind(tomllib.loads((CATALOGUES / f"{kind}.toml").read_text())) == kind
    assert catalogue_kind({"priors": {}}) is None
    offering = load_catalogue(CATALOGUES, "offerings")["a100_aws_1yr"]
    assert offering["price_per_chip_hour"] == 2.4025 and offering["_accelerator"]["peak_flops"] == 312e12


def test_a_sweep_feeds_the_inputs_its_binding_names_with_their_units():
    """The catalogue field each input reads comes from the model's binding: here one of its own, reading the
    accelerator's memory as an input named by the model."""
    binding = {"price": Field("price_per_chip_hour", "USD/chip-hour"), "hbm": Field("memory_bytes", "bytes/chip")}
    swept = sweep_inputs("exp.toml", "hardware", ["a100_aws_1yr", "h100_lambda"], CATALOGUES, binding)
    assert set(swept) == {"price", "hbm"}
    price = swept["price"]
    assert price.dims == ("hardware",) and list(price["hardware"].values) == ["a100_aws_1yr", "h100_lambda"]
    assert price.attrs["units"] == "USD/chip-hour" and swept["hbm"].attrs["units"] == "bytes/chip"
    assert float(price.sel(hardware="a100_aws_1yr")) == 2.4025
    assert list(price["accelerator"].values) == ["a100_40gb", "h100"]
    # a field an entry leaves out takes its default: a dense model holds its active parameters
    both = {name: CATALOGUE["model"][name] for name in ("params", "total_params")}
    models = sweep_inputs("exp.toml", "model", ["gpt3"], CATALOGUES, both)
    xr.testing.assert_equal(models["total_params"].drop_attrs(), models["params"].drop_attrs())


def test_a_model_that_does_not_read_total_parameters_sweeps_dense_models_only():
    dense = {"params": CATALOGUE["model"]["params"]}
    with pytest.raises(ConfigError, match=r"sweep\.model: deepseek_v3 is a mixture-of-experts model \(active and "
                                          r"total parameters differ\), but this model does not read total_params"):
        sweep_inputs("exp.toml", "model", ["gpt3", "deepseek_v3"], CATALOGUES, dense)


def test_models_bind_catalogue_fields_in_their_declaration():
    """sim's own models read the standard binding, restricted to their inputs; a model may declare its own."""
    training = sim.models.MODELS["training"]
    assert set(training.catalogue["model"]) == set(CATALOGUE["model"]) & set(training.inputs) == \
        {"params", "total_params", "tokens"}
    assert set(training.catalogue["hardware"]) == {"peak_flops", "price_per_chip_hour", "accelerator_memory_bytes"} \
        & set(training.inputs)
    assert training.catalogue["model"]["params"] == Field("active_params", "parameters")

    @sim.model(outputs={"y": sim.Output("USD", "y", role="cost")},
               catalogue={"hardware": {"rent": Field("price_per_chip_hour", "USD/chip-hour")}})
    def renting(*, rent, hours):
        return {"y": rent * hours}

    assert renting.catalogue == {"hardware": {"rent": Field("price_per_chip_hour", "USD/chip-hour")}}


@pytest.fixture
def catalogues(project):
    return project / "priors" / "catalogues"


def edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize("file, old, new, match", [
    ("offerings.toml", "price_per_chip_hour = 2.4025", "price_per_chip_hour = -1",
     r"offerings\.toml: offerings\.a100_aws_1yr\.price_per_chip_hour: must be > 0, got -1"),
    ("offerings.toml", "price_per_chip_hour = 2.4025", "price_per_chip_hour = 0",
     r"offerings\.a100_aws_1yr\.price_per_chip_hour: must be > 0, got 0"),
    ("accelerators.toml", "peak_flops = 125e12", "peak_flops = 0",
     r"accelerators\.toml: accelerators\.v100\.peak_flops: must be > 0, got 0"),
    ("accelerators.toml", "power_w = 300", "power_w = -300", r"accelerators\.v100\.power_w: must be > 0"),
    ("accelerators.toml", "memory_bandwidth = 900e9       # bytes/s\n", "",
     r"accelerators\.v100\.memory_bandwidth: missing; every accelerator needs memory_bandwidth"),
    ("models.toml", "active_params = 175e9", "active_params = -175e9",
     r"models\.toml: models\.gpt3\.active_params: must be > 0"),
    ("models.toml", "total_params = 671e9", "total_params = 6e9",
     r"models\.toml: models\.deepseek_v3\.total_params: must be at least active_params \(3\.7e\+10\), got 6e\+09"),
    ("models.toml", "reported_mfu = 0.213", "reported_mfu = 1.3",
     r"models\.toml: models\.gpt3\.reported_mfu: must be in \(0, 1\], got 1\.3"),
    ("models.toml", "active_params = 175e9\n", "",
     r"models\.gpt3\.active_params: missing; every model needs active_params"),
    ("models.toml", "experts_per_token = 8\nexpert_intermediate_size = 2048\nmoe_layers = 58 ",
     "experts_per_token = 300\nexpert_intermediate_size = 2048\nmoe_layers = 58 ",
     r"models\.deepseek_v3\.experts_per_token: must be at most experts \(256\), got 300"),
    ("offerings.toml", 'accelerator = "a100_40gb"', 'accelerator = "a100_4gb"',
     r"offerings\.a100_aws_1yr\.accelerator: 'a100_4gb' is not in .*accelerators\.toml; did you mean 'a100_40gb'\?"),
])
def test_bad_catalogue_entry(catalogues, file, old, new, match):
    edit(catalogues / file, old, new)
    kind = file.removesuffix(".toml")
    with pytest.raises(ConfigError, match=match):
        load_catalogue(catalogues, kind)
    with pytest.raises(ConfigError, match=match):  # an experiment that sweeps it says the same
        sim.load_experiment("experiments/training_cost.toml")


def test_a_field_an_entry_lacks_and_the_model_needs_is_named():
    with pytest.raises(ConfigError, match=r"sweep\.model: 'GPT-3 175B' has no kv_values_per_token in the model "
                                          r"catalogue, which the model needs"):
        sweep_inputs("exp.toml", "model", ["gpt3"], CATALOGUES, CATALOGUE["model"])
