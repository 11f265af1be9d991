"""The LSTM's epoch loop: seeded batch order, early stopping on the validation loss,
the best epoch's weights kept; and running the net over scaled inputs."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import torch
from tqdm import tqdm

from wxstream.models.config import QUANTILES, ModelConfig
from wxstream.models.lstm import LSTMForecaster, pinball_loss

logger = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
_EVAL_BATCH = 4096


@dataclass(frozen=True)
class EpochRecord:
    """Losses after one epoch (mean pinball loss in scaled units)."""

    epoch: int
    train_loss: float
    val_loss: float | None


@contextmanager
def torch_determinism(seed: int, num_threads: int, device: str) -> Iterator[torch.Generator]:
    """Seeded, deterministic torch on ``num_threads`` threads for the block (restored
    after it); yields the generator of the batch order."""
    previous_threads = torch.get_num_threads()
    previous_det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(num_threads)
    # On CUDA, cuBLAS needs an environment variable set before start-up for strict
    # determinism; cuDNN's deterministic kernels are what we can ask for from here.
    torch.use_deterministic_algorithms(device == "cpu")
    previous_cudnn = torch.backends.cudnn.deterministic
    torch.backends.cudnn.deterministic = True
    torch.manual_seed(seed)
    try:
        yield torch.Generator().manual_seed(seed)
    finally:
        torch.set_num_threads(previous_threads)
        torch.use_deterministic_algorithms(previous_det)
        torch.backends.cudnn.deterministic = previous_cudnn


def predict_scaled(net: LSTMForecaster, x_scaled: F32) -> F32:
    """Run ``net`` in eval mode over ``x_scaled`` in large batches (scaled quantiles),
    on the device the net lives on."""
    net.eval()
    device = next(net.parameters()).device
    out: list[F32] = []
    with torch.inference_mode():
        for lo in range(0, len(x_scaled), _EVAL_BATCH):
            batch = torch.from_numpy(np.ascontiguousarray(x_scaled[lo : lo + _EVAL_BATCH]))
            out.append(net(batch.to(device)).cpu().numpy())
    if not out:
        return np.empty((0, net.spec.horizon, net.spec.n_quantiles), np.float32)
    return np.concatenate(out)


@dataclass(frozen=True)
class ScaledData:
    """Scaled inputs and targets: training ones on the training device."""

    x_train: torch.Tensor
    z_train: torch.Tensor
    x_val: F32
    z_val: torch.Tensor


@dataclass
class Fit:
    """Where the epochs got: the best weights so far and every epoch's losses."""

    best_state: dict[str, F32]
    best_epoch: int = 1
    best_score: float = float("inf")
    stale: int = 0
    history: list[EpochRecord] = field(default_factory=list)

    def record(
        self, net: LSTMForecaster, epoch: int, train_loss: float, val_loss: float | None
    ) -> None:
        """Keep ``net``'s weights if this epoch is the best (no validation: the latest)."""
        self.history.append(EpochRecord(epoch, train_loss, val_loss))
        score = val_loss if val_loss is not None else -epoch
        if score < self.best_score:
            self.best_score, self.best_epoch, self.stale = score, epoch, 0
            self.best_state = net.numpy_weights()
        else:
            self.stale += 1


def fit_epochs(
    net: LSTMForecaster,
    data: ScaledData,
    config: ModelConfig,
    generator: torch.Generator,
    *,
    progress: bool,
    device: str,
) -> Fit:
    """Run the epochs, early-stopping on the validation loss."""
    optimizer = torch.optim.Adam(
        net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    schedule = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
        if config.lr_schedule == "cosine"
        else None
    )
    quantiles = torch.tensor(QUANTILES, dtype=torch.float32)
    quantiles_dev = quantiles.to(device)
    fit = Fit(best_state=net.numpy_weights())
    epochs = tqdm(
        range(1, config.epochs + 1),
        desc="epochs",
        unit="epoch",
        file=sys.stderr,
        disable=not progress,
    )
    for epoch in epochs:
        train_loss = _train_epoch(
            net,
            optimizer,
            data,
            config,
            generator=generator,
            quantiles=quantiles_dev,
            epoch=epoch,
            progress=progress,
        )
        if schedule is not None:
            schedule.step()
        val_loss: float | None = None
        if len(data.x_val):
            q_val = torch.from_numpy(predict_scaled(net, data.x_val))
            val_loss = float(pinball_loss(q_val, data.z_val, quantiles))
        fit.record(net, epoch, train_loss, val_loss)
        epochs.set_postfix(train=f"{train_loss:.4f}", val=f"{val_loss or float('nan'):.4f}")
        if val_loss is not None and fit.stale >= config.patience:
            logger.info("early stop after epoch %d (best %d)", epoch, fit.best_epoch)
            break
    epochs.close()
    return fit


def _train_epoch(
    net: LSTMForecaster,
    optimizer: torch.optim.Optimizer,
    data: ScaledData,
    config: ModelConfig,
    *,
    generator: torch.Generator,
    quantiles: torch.Tensor,
    epoch: int,
    progress: bool,
) -> float:
    """One pass over the training samples in a seeded random order; the mean loss."""
    net.train()
    n_train = len(data.x_train)
    order = torch.randperm(n_train, generator=generator)
    n_batches = (n_train + config.batch_size - 1) // config.batch_size
    total = 0.0
    batches = tqdm(
        range(n_batches),
        desc=f"epoch {epoch}",
        unit="batch",
        leave=False,
        file=sys.stderr,
        disable=not progress,
    )
    for b in batches:
        idx = order[b * config.batch_size : (b + 1) * config.batch_size].to(data.x_train.device)
        optimizer.zero_grad(set_to_none=True)
        loss = pinball_loss(net(data.x_train[idx]), data.z_train[idx], quantiles)
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip)
        optimizer.step()
        total += float(loss.detach()) * len(idx)
    return total / n_train
