"""The benchmark suite: sessionkit against its baselines, as ratios measured in one run."""
