"""Synthetic data for demos, tests and benchmarks: logo images with exact labels."""

from truthloop.sim.logos import LogoDataset, generate_logos, logo_classes

__all__ = ["LogoDataset", "generate_logos", "logo_classes"]
