"""Cells of a run (sim.analysis.cells): choosing them by their labels, each choice checked."""

import numpy as np
import pytest
import xarray as xr

from sim.analysis.cells import cell_dims, select
from sim.errors import SimError

RUN = xr.Dataset({"cost": (("scenario", "year", "sample"), np.zeros((2, 3, 4)))},
                 coords={"scenario": ["a", "b"], "year": [2024, 2025, 2026]})


def test_cells_are_chosen_by_their_labels_as_text():
    chosen = select(RUN, [("scenario", "b"), ("year", "2025")])
    assert chosen["cost"].shape == (1, 1, 4)  # each chosen dim keeps its axis
    assert list(chosen["year"].values) == [2025]
    assert select(RUN, None) is RUN and cell_dims(RUN) == ["scenario", "year"]


@pytest.mark.parametrize("pairs, message", [
    ([("sample", "0")], "--select: no dim 'sample' in the run; valid: scenario, year"),
    ([("model", "x")], "--select: no dim 'model' in the run; valid: scenario, year"),
    ([("year", "2030")], "--select: year has no value '2030'; valid: 2024, 2025, 2026"),
])
def test_a_cell_the_run_lacks_is_named_with_what_it_has(pairs, message):
    with pytest.raises(SimError, match=f"^{message}$"):
        select(RUN, pairs)
