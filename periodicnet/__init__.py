"""The bottom floor of crystal-slices: what the codec (:mod:`slices`) and the reconstruction (:mod:`relax`) share.

- :mod:`periodicnet.errors`: the project's base exception :class:`SlicesError` and :class:`StructureInputError`;
- :mod:`periodicnet.elements`: the element table every package accepts;
- :mod:`periodicnet.graph`: labelled quotient graphs (edge normalisation, validation, connectivity and periodic
  rank, barycentric placement);
- :mod:`periodicnet.structure`: validation of a pymatgen ``Structure`` handed to the project;
- :mod:`periodicnet.limits`: every numeric guard (distances, volumes, time limits, seeds) in one place;
- :mod:`periodicnet.arguments`: checks of seeds, time limits and counts, shared by the API and the command line.

It imports no other package of the project (``docs/architecture.md``).
"""

import warnings as _warnings

# pymatgen has no Pauling electronegativity for He, Ne and Ar; it warns (once per process) whenever it orders a formula
# holding one of them (Composition.reduced_formula, which the novelty check and screening call on every crystal).
# The NaN it substitutes only decides where the noble gas is written in the formula. Silenced here, by its exact
# message, because every package (and every worker process) imports this one first.
_warnings.filterwarnings(
    "ignore", message=r"No Pauling electronegativity for \w+\. Setting to NaN\.", category=UserWarning
)
