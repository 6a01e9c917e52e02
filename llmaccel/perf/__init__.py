"""Performance: the analytical cycle model of the core (cycle_model.py) and the decode tokens/s
projections on the PYNQ-Z1 (projection.py)."""
