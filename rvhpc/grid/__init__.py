"""The grid stage: grid files -> scenarios -> cells -> manifest, packing and the work estimate.

``spec`` reads and validates a grid file, ``scenarios`` expands basin lists, training periods and
folds, ``cells`` turns experiments into cells with their run directories, ``manifest`` records them
for array tasks, ``packing`` groups cells that differ only in seed, ``estimate`` projects the work.
"""
