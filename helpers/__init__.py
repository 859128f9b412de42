"""Study kit for small image classifiers: data, models, training, evaluation, report."""
