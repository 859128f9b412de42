"""Plugins the tests register through the parameter `plugins`, exactly as a user would."""
