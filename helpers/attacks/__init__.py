"""Evasion attacks in pixel space: a registry of `Attack` classes, one module each.

Built-in attacks are the modules of this folder that define `ATTACK` (fgsm, pgd); a plugin adds
one with `register_attack(cls)`. The parameter `attacks` names those B1 runs.
"""
from __future__ import annotations

from typing import Any

from ..config.schema import ParameterError, register_check
from ..core.registry import Registry
from .base import Attack, AttackResult, goal_met, loss_grad
from .fgsm import fgsm
from .pgd import pgd

_ATTACKS: Registry[type[Attack]] = Registry("attack", __name__, "ATTACK")


def register_attack(cls: type[Attack]) -> type[Attack]:
    """Make an attack available by its `name` (`attacks: [..., <name>]`)."""
    return _ATTACKS.register(cls)


def attack_names() -> list[str]:
    return _ATTACKS.names()


def build_attack(name: str, params: dict[str, Any]) -> Attack:
    """The attack `name`, configured by the study's parameters (pgd_steps, pgd_step_divisor)."""
    return _ATTACKS.get(name).from_params(params)


def _check_attacks(names: Any, source: str) -> None:
    unknown = [n for n in names if n not in attack_names()]
    if unknown or not names:
        raise ParameterError(f"parameter 'attacks' in {source} must list registered attacks; unknown: {unknown}; "
                             f"registered: {sorted(attack_names())}")


register_check("attacks", _check_attacks)

__all__ = ["Attack", "AttackResult", "attack_names", "build_attack", "fgsm", "goal_met", "loss_grad", "pgd",
           "register_attack"]
