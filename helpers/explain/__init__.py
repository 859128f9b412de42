"""Explanations in pixel space: saliency, Grad-CAM, and statistics of the maps."""
from .gradcam import gradcam, gradcam_layer, gradcam_layer_name, has_gradcam, map_size
from .saliency import saliency

__all__ = ["gradcam", "gradcam_layer", "gradcam_layer_name", "has_gradcam", "map_size", "saliency"]
