"""The study's steps, one module per part, each returning tables, figures, sentences and metrics
for its notebook: data_overview (A1), training and training_seeds (A2), interpretability (A3),
adversarial and adversarial_figures (B1), transfer (B2), hardening (B3), compression,
compression_analysis and compression_latency (C1), compressed_robustness, robustness_discussion,
deployment and robust_pruning (C2); `stage` is what every notebook starts with."""
