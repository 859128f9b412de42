"""Models: the registry of model specs, the zoo of built-in models, checkpoints."""
from .registry import (ModelSpec, build_model, classifier_layer, conv_and_linear, count_parameters, get_spec,
                       model_names, register_model, spec_of)

__all__ = ["ModelSpec", "build_model", "classifier_layer", "conv_and_linear", "count_parameters", "get_spec",
           "model_names", "register_model", "spec_of"]
