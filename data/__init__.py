"""Data shipped with crystal-slices, installed as the package ``crystal_slices_data``: the generative model
(``model/``) and the hull reference energies (``hull_reference.csv.gz``). Find a file with
:func:`periodicnet.resources.shipped_data_path`."""
