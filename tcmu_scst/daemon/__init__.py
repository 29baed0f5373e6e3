"""tcmu-scstd: owns the SCST tree, its LIO objects and the data-plane workers."""
