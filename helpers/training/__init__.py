"""Training: the recipe, the resumable loop, losses, and training that is done once."""
