"""Data shipped with crystal-slices, installed as the package ``crystal_slices_data``: the generative model
(``model/``) and the default potential's elemental reference energies (``elemental_references.json``). Find a file with
:func:`periodicnet.resources.shipped_data_path`."""
