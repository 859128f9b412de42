"""`layerwise`: unstructured magnitude pruning of the same fraction of every prunable layer (Han et
al. 2015)."""
from .magnitude import MagnitudePruning


class LayerwiseMagnitude(MagnitudePruning):
    name = "layerwise"
    title = "layer-wise magnitude pruning"
    mode = "layerwise"


METHOD = LayerwiseMagnitude
