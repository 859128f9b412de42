"""Robustness: attacks over a split, their statistics with stated denominators, transfer, the
random-sign noise baseline, the worst case over PGD restarts, and the fixed adversarial set."""
from .attack_runs import AttackRun, eps_key, run_attack
from .fixed_set import load_adversarial_set, replay, save_adversarial_set
from .noise import noise_statistics, random_sign_noise
from .statistics import statistics, transfer_statistics
from .worst_case import worst_case_pgd

__all__ = ["AttackRun", "eps_key", "load_adversarial_set", "noise_statistics", "random_sign_noise", "replay",
           "run_attack", "save_adversarial_set", "statistics", "transfer_statistics", "worst_case_pgd"]
