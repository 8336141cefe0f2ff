"""CAMELS US data layer: reader, synthetic data, basin store, window sampler, static vectors."""
