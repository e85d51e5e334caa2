//! Provider goldmane-edges.
