"""The LSTM temperature forecaster: configuration, training, model directory, loading, runtime.

Importing this package is cheap and torch-free; torch is imported only by training
(:mod:`wxstream.models.training`, :mod:`wxstream.models.lstm`) and by the torch backend.
"""

from __future__ import annotations
