"""The data layer: dataset readers (a registry), synthetic data, the basin store, window sampler,
static vectors."""
