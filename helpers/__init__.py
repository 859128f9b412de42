"""Study kit for small image classifiers. The subpackages follow the pipeline: config (parameters),
data, models, training, evaluation, explain, attacks, robustness, defense, compression, study (the
steps each notebook calls), report, pipeline (the runner); core holds what they share."""
