"""Background work: what runs without anyone asking, beside the portal (see background.py)."""
