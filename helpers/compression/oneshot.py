"""`oneshot`: one global magnitude cut and one fine-tuning, the student reproduction's protocol (50 %
of the weights after 10 epochs of training and 5 of fine-tuning), beside Han et al.'s rounds."""
from .base import FineTuneBudget
from .magnitude import MagnitudePruning


class OneShotMagnitude(MagnitudePruning):
    name = "oneshot"
    title = "single-shot global magnitude pruning (one cut, 5 epochs)"
    mode = "global"
    default_targets = (0.5,)
    default_budget = FineTuneBudget(epochs=5, lr=5e-4, warmup_epochs=0)
    narrative = ("**oneshot**: a single global magnitude cut fine-tuned for 5 epochs, the student reproduction's "
                 "protocol (its 50 % point), with a longer fine-tuning than `global` gets.")


METHOD = OneShotMagnitude
