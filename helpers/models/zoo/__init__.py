"""The built-in models, one module each, every module defining `SPEC` (a `ModelSpec`).

The registry lists this folder, so a new model is a new file here (or a plugin calling
`register_model`); no other file names the models.
"""
