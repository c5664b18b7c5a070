"""Sample-quality metrics that need no structure: compositional validity (the CDVAE/SMACT protocol).

Both are the project's one SMACT test, :mod:`periodicnet.chemistry` (SMACT's 2014 oxidation-state set); they take
a cell's list of site symbols (a :class:`slices.SlicesGraph`'s ``species``) or element counts.
"""

from __future__ import annotations

from periodicnet.chemistry import is_all_metal, smact_valid

composition_valid = smact_valid

__all__ = ["composition_valid", "is_all_metal"]
