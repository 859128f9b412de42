"""The interactive explorer (notebooks/explorer.ipynb, `make lab`): any finished run's models,
clean and attacked, with their maps and probabilities, and the variants side by side.

`run` finds what a run made, `inspection` computes one image through one variant, `figure` draws
it, `compare` tabulates C1's and C2's measurements, and `app` holds the widgets.
"""
