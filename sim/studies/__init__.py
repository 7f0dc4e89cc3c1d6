"""Studies that evaluate the model beyond a run: they take an experiment and return Datasets.

:mod:`.sensitivity` (Sobol' indices, tornado, spider), :mod:`.decision`
(stress tests, goal seek), :mod:`.precision` (sampling until the Monte Carlo
error is small enough) and :mod:`.stream` (summaries in bounded memory, on
one core or a Dask cluster). What reads a run's samples alone is in
:mod:`sim.analysis`; neither writes files.
"""
