"""The evaluation stage: predictions -> per-basin metrics, below training and collect.

``predict`` runs a model over a store's evaluation period and writes predictions and metrics,
``metrics`` holds NSE and the other scores, ``reference`` reads run directories of the original
code and ``original`` scores them (or a state dict they saved) with the original's scalers.
"""
