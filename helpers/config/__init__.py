"""Parameters: one declaration per parameter (`defaults.py`), overridden by YAML files and `--set`,
checked before anything runs."""
from .schema import ParameterError, declarations, defaults, load_yaml, parse_overrides, register_check, validate

__all__ = ["ParameterError", "declarations", "defaults", "load_yaml", "parse_overrides", "register_check", "validate"]
