"""Parameters: one declaration per parameter (`defaults.py`), overridden by YAML files and `--set`,
checked before anything runs."""
from .schema import ParameterError, defaults, load_yaml, parse_overrides, register_check, schema, validate

__all__ = ["ParameterError", "defaults", "load_yaml", "parse_overrides", "register_check", "schema", "validate"]
