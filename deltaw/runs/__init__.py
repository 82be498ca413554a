"""What happens to an experiment: run folders, training and resuming a spec, checkpoints,
sweeps, reports, predictions and the probes behind ``gradcheck``/``explain``."""
