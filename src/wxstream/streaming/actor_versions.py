"""The :class:`~.version_swap.VersionHost` of the Ray actors: a new target's versions
are resolved in the model store (which every instance must reach: a shared path),
checked against the served champion (:func:`~.served_versions.check_compatible`),
loaded into every actor beside the served ones without stopping their calls, and
forecast on warm-up windows (real windows of the latest batch) before they serve."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from wxstream.errors import ConfigError, InferenceError
from wxstream.models.forecasting_model import ForecastingModel
from wxstream.models.model_loader import load_model
from wxstream.models.registry import resolve
from wxstream.streaming.actor_pool import ActorPool
from wxstream.streaming.core.swap import Served
from wxstream.streaming.core.versions import ServedVersion
from wxstream.streaming.served_versions import check_compatible
from wxstream.streaming.version_swap import Prepared

_POLL_S = 0.05


class ActorVersions:
    """Prepares targets of model ``name`` on the actors of ``pool``.

    Args:
        pool: the actors.
        forecasting_dir: the model store's forecasting folder.
        name: the served model name.
        served: the champion served at start (new versions must be compatible).
        timeout_s: longest wait for the actors to load a version, and for warm-up windows.
    """

    def __init__(
        self,
        pool: ActorPool,
        forecasting_dir: Path,
        name: str,
        served: ForecastingModel,
        timeout_s: float = 300.0,
    ) -> None:
        self.pool = pool
        self.forecasting_dir = forecasting_dir
        self.name = name
        self.served = served
        self.timeout_s = timeout_s

    def prepare(self, target: Served) -> Prepared:
        """Load and check ``target`` on every actor (see the module docstring).

        Raises:
            ModelNotFoundError / IncompleteVersionError: a version is missing or
                half-copied in the store.
            ConfigError: a version cannot share the served windows.
            InferenceError: a version failed to load or forecast the warm-up windows.
        """
        dirs = [resolve(self.forecasting_dir, f"{self.name}@{v}") for v in target.versions]
        models = [load_model(path, device="cpu", runtime="numpy") for path in dirs]
        for model in models:
            check_compatible(self.served, model)
        deadline = time.monotonic() + self.timeout_s
        for path in dirs:
            self._load(str(path), deadline)
        x = self._warm_up_windows(deadline)
        for path, model in zip(dirs, models, strict=True):
            self._check(str(path), model, x)
        challenger = None
        if target.challenger is not None:
            challenger = ServedVersion(models[1], target.challenger)
        handle = (str(dirs[0]), str(dirs[1]) if len(dirs) > 1 else None)
        return Prepared(target, models[0], challenger, handle)

    def activate(self, prepared: Prepared) -> None:
        """Forecast the next calls with ``prepared``'s directories."""
        champion, challenger = prepared.handle
        self.pool.use_dirs(champion, challenger)

    def _load(self, path: str, deadline: float) -> None:
        import ray

        actors = self.pool.actors
        ray.get([actor.begin_load.remote(path) for actor in actors])
        while True:
            states: list[str] = ray.get([actor.load_state.remote(path) for actor in actors])
            failed = [s for s in states if s.startswith("failed")]
            if failed:
                raise InferenceError(
                    f"an actor could not load {path}: {failed[0]}",
                    fix="check the version's files (`wxstream models versions NAME`)",
                )
            if all(s == "ready" for s in states):
                return
            if time.monotonic() > deadline:
                raise InferenceError(
                    f"the actors did not load {path} within {self.timeout_s:.0f} s",
                    fix="check the actors' logs (`ray logs`) and the model store's path",
                )
            time.sleep(_POLL_S)

    def _warm_up_windows(self, deadline: float) -> np.ndarray:
        # Real windows the service forecast last; with no traffic yet, wait for some.
        while self.pool.sample is None:
            if time.monotonic() > deadline:
                raise InferenceError(
                    "no windows to check the new version on",
                    fix="publish the move again once features arrive "
                    "(`wxstream models publish NAME`)",
                )
            time.sleep(_POLL_S)
        return self.pool.sample

    def _check(self, path: str, model: ForecastingModel, x: np.ndarray) -> None:
        import ray

        expected = (x.shape[0], len(model.leads_h), 3)
        for actor in self.pool.actors:
            out = np.asarray(ray.get(actor.check_version.remote(path, x)))
            if out.shape != expected or not np.isfinite(out).all():
                raise ConfigError(
                    f"version {model.version} of {self.name} failed its warm-up check: "
                    f"forecasts of shape {out.shape} (expected {expected}), "
                    f"{int((~np.isfinite(out)).sum())} not finite",
                    fix="train or import the version again and promote the new one",
                )
