"""The chemical elements the project accepts (H to Lr), in atomic-number order: one table for every package."""

from __future__ import annotations

ELEMENTS: tuple[str, ...] = tuple(
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr Rb Sr Y Zr "
    "Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir "
    "Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No Lr".split()
)
ATOMIC_NUMBER: dict[str, int] = {symbol: z for z, symbol in enumerate(ELEMENTS, start=1)}


def is_element(symbol: object) -> bool:
    """True when ``symbol`` is one of :data:`ELEMENTS` (case-sensitive, as in a formula)."""
    return isinstance(symbol, str) and symbol in ATOMIC_NUMBER


NON_METALS: frozenset[str] = frozenset(
    {"H", "He", "B", "C", "N", "O", "F", "Ne", "Si", "P", "S", "Cl", "Ar", "Ge", "As", "Se", "Br", "Kr", "Sb", "Te",
     "I", "Xe", "At", "Rn"}
)
"""Elements that do not count as metals (metalloids and noble gases included): the reconstruction's secondary-edge
and angle rules."""
METALLOIDS: frozenset[str] = frozenset({"Si", "Ge", "As", "Sb", "Te", "At"})
NOBLE_GASES: frozenset[str] = frozenset({"He", "Ne", "Ar", "Kr", "Xe", "Rn"})
COVALENT_NON_METALS: frozenset[str] = NON_METALS - METALLOIDS - NOBLE_GASES
"""H, B, C, N, O, P, S, Se and the halogens: the elements whose mutual bonds are covalent (the codec's covalent bond
rule, ``slices.bonds``, and the reconstruction's covalent targets, ``relax.targets``)."""
