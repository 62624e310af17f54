"""The generators of ``monge synth`` (same seeds, same streams: the arrays equal the CLI's files)."""

from . import _monge


def toy(dataset, n=1000, seed=0):
    """A 2-D toy pair ``(source, target)`` of n points each: 8gaussians, moons, circles, swissroll,
    checkerboard, bookshelf, circles-pair."""
    return _monge.toy(dataset, int(n), int(seed))


def scrna(cells=2000, genes=3000, affected=100, noise_genes=2000, seed=0):
    """[C25]'s synthetic scRNA perturbation: ``(control, perturbed, counterfactual)``; the perturbed rows
    are shuffled (unpaired), ``counterfactual[i]`` is control cell i's true perturbed state."""
    return _monge.scrna(int(cells), int(genes), int(affected), int(noise_genes), int(seed))


def known_map(n=1000, dim=2, components=3, seed=0):
    """A pair with a known optimal map: ``(source, target, true_mapped)`` with ``true_mapped = T*(source)``
    row-aligned with the source (pass it to ``monge.evaluate(..., true_mapped=...)`` for L2-UVP)."""
    return _monge.known_map(int(n), int(dim), int(components), int(seed))


known_map_pair = known_map
