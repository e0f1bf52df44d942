"""Vectorized simulation kernels: pure functions over arrays."""
