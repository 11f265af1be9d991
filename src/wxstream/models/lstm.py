"""The PyTorch network: stacked LSTM, then a linear head emitting non-crossing quantiles.

The net works in scaled units: it reads scaled inputs and returns, per lead, the
scaled quantiles ``(p10, p50, p90)`` of the target (or of its change from the last
observation). The head emits ``(a, m, b)`` per lead and the quantiles are
``(m - softplus(a), m, m + softplus(b))``, so p10 <= p50 <= p90 for any weights.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import torch
from torch import nn
from torch.nn import functional

from wxstream.models.model_dir import NetworkSpec


def noncrossing_quantiles(raw: torch.Tensor) -> torch.Tensor:
    """``(..., 3)`` head outputs ``(a, m, b)`` -> ``(m - softplus(a), m, m + softplus(b))``."""
    lower = raw[..., 1] - functional.softplus(raw[..., 0])
    upper = raw[..., 1] + functional.softplus(raw[..., 2])
    return torch.stack((lower, raw[..., 1], upper), dim=-1)


class LSTMForecaster(nn.Module):
    """Stacked LSTM over ``(batch, lookback, n_inputs)`` -> ``(batch, horizon, 3)`` quantiles.

    Args:
        spec: the network shape; only three quantiles are supported.
        dropout: between LSTM layers and before the head (training only).
    """

    def __init__(self, spec: NetworkSpec, dropout: float = 0.0) -> None:
        super().__init__()
        if spec.n_quantiles != 3:
            raise ValueError("the forecaster emits exactly three quantiles (p10, p50, p90)")
        self.spec = spec
        self.lstm = nn.LSTM(
            input_size=spec.n_inputs,
            hidden_size=spec.hidden_size,
            num_layers=spec.num_layers,
            batch_first=True,
            dropout=dropout if spec.num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(spec.hidden_size, spec.horizon * spec.n_quantiles)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scaled inputs ``(B, L, F)`` -> scaled quantiles ``(B, horizon, 3)``."""
        _, (h_n, _) = self.lstm(x)
        raw = self.head(self.dropout(h_n[-1]))
        return noncrossing_quantiles(raw.view(-1, self.spec.horizon, self.spec.n_quantiles))

    def numpy_weights(self) -> dict[str, npt.NDArray[np.float32]]:
        """The ``state_dict`` as float32 numpy arrays (copies, on the CPU)."""
        return {
            k: v.detach().to("cpu", torch.float32).numpy().copy()
            for k, v in self.state_dict().items()
        }

    def load_numpy_weights(self, weights: Mapping[str, npt.NDArray[np.float32]]) -> None:
        """Load float32 numpy arrays by ``state_dict`` name (strict)."""
        state = {
            k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32))
            for k, v in weights.items()
        }
        self.load_state_dict(state, strict=True)


def pinball_loss(pred: torch.Tensor, target: torch.Tensor, quantiles: torch.Tensor) -> torch.Tensor:
    """Mean quantile (pinball) loss.

    Args:
        pred: ``(B, H, Q)`` predicted quantiles.
        target: ``(B, H)`` observed values.
        quantiles: ``(Q,)`` quantile levels.
    """
    diff = target.unsqueeze(-1) - pred
    return torch.maximum(quantiles * diff, (quantiles - 1.0) * diff).mean()
