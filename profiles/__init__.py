"""Per-layer cost profiles of DNNs (`splitgym-profile/1`) and their candidate cuts."""

from .cuts import Cut, CutTable, chain_cut_table, cut_for_edge_set, make_cut_table
from .schema import FORMAT, Layer, Profile, ProfileError, load_profile, shipped_profiles

__all__ = [
    "FORMAT", "Cut", "CutTable", "Layer", "Profile", "ProfileError", "chain_cut_table",
    "cut_for_edge_set", "load_profile", "make_cut_table", "shipped_profiles",
]
