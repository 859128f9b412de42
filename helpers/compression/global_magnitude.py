"""`global`: unstructured magnitude pruning with one threshold over all prunable layers (Han et
al. 2015), so large layers with many small weights give up most."""
from .magnitude import MagnitudePruning


class GlobalMagnitude(MagnitudePruning):
    name = "global"
    title = "global magnitude pruning"
    mode = "global"
    narrative = "**global**: one magnitude threshold over all prunable layers, so large layers with many small weights give up most."


METHOD = GlobalMagnitude
