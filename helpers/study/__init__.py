"""The study's steps, one module per part, each returning tables, figures, sentences and metrics
for its notebook: data_overview (A1), training (A2), interpretability (A3), adversarial and
adversarial_figures (B1), transfer (B2), hardening (B3), compression, compression_analysis and
compression_latency (C1), compressed_robustness and robustness_discussion (C2); `stage` is what
every notebook starts with."""
