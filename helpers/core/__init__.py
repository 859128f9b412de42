"""What every stage of the study shares: files and digests, the run layout, reuse keys, devices,
progress lines and plugins."""
