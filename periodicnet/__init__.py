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
