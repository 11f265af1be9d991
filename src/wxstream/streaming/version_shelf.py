"""The model versions an inference actor holds, by directory, for live swaps: a new
version loads on a thread of its own while the actor keeps forecasting, and the
versions served before stay loaded, so that a rollback needs no reload."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)


class VersionShelf:
    """Loaded versions by directory, and the loads under way.

    Args:
        load: loads the model of a directory (runs on a loading thread).
    """

    def __init__(self, load: Callable[[str], Any]) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._models: dict[str, Any] = {}
        self._loading: dict[str, threading.Thread] = {}
        self._failed: dict[str, str] = {}

    def put(self, path: str, model: Any) -> None:
        """Hold ``model`` as the version of ``path``."""
        with self._lock:
            self._models[path] = model

    def begin(self, path: str) -> None:
        """Start loading ``path`` (nothing when it is loaded or loading)."""
        with self._lock:
            if path in self._models or path in self._loading:
                return
            self._failed.pop(path, None)
            thread = threading.Thread(target=self._run, args=(path,), daemon=True)
            self._loading[path] = thread
        thread.start()

    def _run(self, path: str) -> None:
        try:
            model = self._load(path)
        except Exception as exc:  # reported through state(); the actor keeps serving
            logger.warning("loading %s failed: %s", path, exc)
            with self._lock:
                self._failed[path] = f"{type(exc).__name__}: {exc}"
                del self._loading[path]
            return
        with self._lock:
            self._models[path] = model
            del self._loading[path]

    def state(self, path: str) -> str:
        """``ready``, ``loading``, ``failed: WHY`` or ``absent``."""
        with self._lock:
            if path in self._models:
                return "ready"
            if path in self._loading:
                return "loading"
            if path in self._failed:
                return f"failed: {self._failed[path]}"
            return "absent"

    def get(self, path: str) -> Any:
        """The model of ``path``, loaded here and now if it is not held (after a
        restart of the actor, which starts with its first versions only)."""
        with self._lock:
            model = self._models.get(path)
            loading = self._loading.get(path)
        if model is not None:
            return model
        if loading is not None:
            loading.join()
            with self._lock:
                model = self._models.get(path)
            if model is not None:
                return model
        model = self._load(path)
        self.put(path, model)
        return model
