"""`layerwise`: unstructured magnitude pruning of the same fraction of every prunable layer (Han et
al. 2015)."""
from .magnitude import MagnitudePruning


class LayerwiseMagnitude(MagnitudePruning):
    name = "layerwise"
    title = "layer-wise magnitude pruning"
    mode = "layerwise"
    narrative = "**layerwise**: the same fraction of the smallest weights in every prunable layer."


METHOD = LayerwiseMagnitude
