"""Reference path counts for the coverage tests, by polynomial multiplication in Python ints."""

from __future__ import annotations


def poly(layers: list[tuple[int, int]]) -> list[int]:
    """Coefficients of prod (1 + x^d + ... + x^((k-1)d)) over ``(dilation, kernel)`` pairs: the
    exact 1-D path counts of a stride-1 chain, Python ints."""
    coeffs = [1]
    for d, k in layers:
        out = [0] * (len(coeffs) + (k - 1) * d)
        for j in range(k):
            for i, c in enumerate(coeffs):
                out[i + j * d] += c
        coeffs = out
    return coeffs
