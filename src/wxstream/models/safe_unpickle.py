"""A restricted unpickler for the scikit-learn scalers of the original model format.

Unpickling runs code: a pickle may name any importable callable (``os.system``,
``subprocess.Popen``) and have it called while loading. This module loads a pickle
through a :class:`pickle.Unpickler` whose ``find_class`` resolves only an explicit
allow-list; any other global is refused, with the file and the global named, before
anything is called.

The allowed scaler classes are never imported: each resolves to a plain record
(:class:`PickledObject`) that keeps the class path and the attribute dict the pickle
restores. So no scikit-learn code runs either, and a scaler pickled by another
scikit-learn version loads without version checks. numpy arrays, dtypes and scalars
are restored by numpy's own reconstruct functions, which build data and call nothing
else.

Reading a pickle is still an act of trust: the allow-list narrows what a hostile file
can do to building numpy arrays and dicts, but only files from a known origin should be
read at all, which is why callers ask for an explicit ``--trust-pickles``.
"""

from __future__ import annotations

import codecs
import importlib
import io
import logging
import pickle
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from wxstream.errors import ModelFormatError, UntrustedPickleError

logger = logging.getLogger(__name__)

# The scaler classes of scikit-learn's preprocessing module that the original format
# used; ``_data`` is the module since scikit-learn 0.22, ``data`` before it.
SCALER_CLASS_NAMES: tuple[str, ...] = (
    "MinMaxScaler",
    "StandardScaler",
    "RobustScaler",
    "MaxAbsScaler",
)
_SCALER_MODULES: tuple[str, ...] = ("sklearn.preprocessing._data", "sklearn.preprocessing.data")

# numpy names as (module, attribute) -> (module to import, attribute) in the running
# numpy. numpy 2 renamed ``numpy.core`` to ``numpy._core``; pickles written under
# numpy 1 still name the old module, so both spellings map to the new one.
_NUMPY_GLOBALS: dict[tuple[str, str], tuple[str, str]] = {
    ("numpy", "ndarray"): ("numpy", "ndarray"),
    ("numpy", "dtype"): ("numpy", "dtype"),
    ("numpy._core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"): ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "scalar"): ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"): ("numpy._core.numeric", "_frombuffer"),
    ("numpy.core.numeric", "_frombuffer"): ("numpy._core.numeric", "_frombuffer"),
}

# Harmless constructors that protocols 0-2 name as globals for plain containers and
# for bytes (``_codecs.encode(text, "latin1")``).
_PLAIN_GLOBALS: dict[tuple[str, str], Any] = {
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "object"): object,
    ("collections", "OrderedDict"): OrderedDict,
    ("_codecs", "encode"): codecs.encode,
}

# Python 2 module names that protocols 0-2 write (pickle's ``fix_imports``).
_PY2_MODULES: dict[str, str] = {"copy_reg": "copyreg", "__builtin__": "builtins"}

_JOBLIB_MODULE_PREFIX = "joblib."


class PickledObject:
    """An instance of an allowed class, restored as data without importing the class.

    Attributes:
        class_path: ``module.ClassName`` as named in the pickle.
        state: the instance's attribute dict as the pickle restores it.
    """

    class_path: ClassVar[str] = ""

    def __new__(cls, *args: object, **kwargs: object) -> PickledObject:
        # The pickle protocols create instances with ``cls.__new__(cls, *args)`` and
        # never call ``__init__``; the state arrives afterwards through __setstate__.
        obj = super().__new__(cls)
        obj.state = {}
        return obj

    state: dict[str, Any]

    @property
    def class_name(self) -> str:
        """The class name without its module, e.g. ``MinMaxScaler``."""
        return self.class_path.rsplit(".", 1)[-1]

    def __setstate__(self, state: object) -> None:
        """Keep the restored attribute dict (``(dict, slots)`` pairs merged)."""
        if isinstance(state, tuple) and len(state) == 2:
            merged: dict[str, Any] = {}
            for part in state:
                if part is not None:
                    merged.update(_as_str_dict(part))
            self.state = merged
        else:
            self.state = _as_str_dict(state)

    def __repr__(self) -> str:
        return f"PickledObject({self.class_path}, keys={sorted(self.state)})"


def _as_str_dict(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise pickle.UnpicklingError(
            f"state of an allowed class is {type(value).__name__}, not a dict of attributes"
        )
    return dict(value)


def _record_class(class_path: str) -> type[PickledObject]:
    name = class_path.rsplit(".", 1)[-1]
    return type(name, (PickledObject,), {"class_path": class_path, "__module__": __name__})


_SCALER_RECORDS: dict[str, type[PickledObject]] = {
    name: _record_class(f"sklearn.preprocessing.{name}") for name in SCALER_CLASS_NAMES
}


def _reconstructor(cls: object, base: object, state: object) -> PickledObject:
    """Stand-in for ``copyreg._reconstructor`` (protocols 0 and 1) for allowed records only."""
    if not (isinstance(cls, type) and issubclass(cls, PickledObject)) or base is not object:
        raise pickle.UnpicklingError("copyreg._reconstructor used for a class outside the list")
    return cls.__new__(cls)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the scaler classes, numpy data and plain containers.

    Args:
        file: the open binary pickle stream.
        source: the file's name, used in error messages.
    """

    def __init__(self, file: io.BufferedIOBase | io.BytesIO, *, source: str) -> None:
        super().__init__(file)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        """Resolve ``module.name`` from the allow-list or raise :class:`UntrustedPickleError`."""
        module = _PY2_MODULES.get(module, module)
        if module in _SCALER_MODULES and name in _SCALER_RECORDS:
            return _SCALER_RECORDS[name]
        if (module, name) in _NUMPY_GLOBALS:
            target_module, attribute = _NUMPY_GLOBALS[(module, name)]
            return getattr(importlib.import_module(target_module), attribute)
        if (module, name) in _PLAIN_GLOBALS:
            return _PLAIN_GLOBALS[(module, name)]
        if (module, name) == ("copyreg", "_reconstructor"):
            return _reconstructor
        raise _refusal(self.source, module, name)


def _refusal(source: str, module: str, name: str) -> UntrustedPickleError:
    if module.startswith(_JOBLIB_MODULE_PREFIX):
        return UntrustedPickleError(
            f"{source}: written by joblib.dump (refers to {module}.{name}); only plain "
            "pickle files are read",
            fix="in the environment that wrote it, re-save with "
            "pickle.dump(joblib.load(path), open(path, 'wb'))",
        )
    allowed = ", ".join(SCALER_CLASS_NAMES)
    return UntrustedPickleError(
        f"{source}: refused to load global {module}.{name}: only scikit-learn scalers "
        f"({allowed}), numpy arrays and plain containers are allowed",
        fix="this pickle holds other objects and may run code when loaded; do not load it "
        "unless you wrote it yourself, and then re-save the scaler on its own",
    )


def loads_restricted(data: bytes, *, source: str) -> Any:
    """Unpickle ``data`` through :class:`RestrictedUnpickler`.

    Args:
        data: the pickle bytes.
        source: a name for the data in error messages (usually the file path).

    Raises:
        UntrustedPickleError: the pickle names a global outside the allow-list.
        ModelFormatError: the data is not a readable pickle.
    """
    try:
        return RestrictedUnpickler(io.BytesIO(data), source=source).load()
    except UntrustedPickleError:
        raise
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        MemoryError,
    ) as exc:
        raise ModelFormatError(
            f"{source}: not a readable pickle ({type(exc).__name__}: {exc})",
            fix="check that the file is a complete pickle written by pickle.dump",
        ) from exc


def load_restricted(path: Path) -> Any:
    """Read and unpickle the file at ``path`` through :class:`RestrictedUnpickler`.

    Raises:
        ModelFormatError: the file is missing, unreadable or not a pickle.
        UntrustedPickleError: the pickle names a global outside the allow-list.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelFormatError(
            f"{path}: cannot read ({exc.strerror or exc})",
            fix="check that the file exists and is readable",
        ) from exc
    value = loads_restricted(data, source=str(path))
    logger.debug("unpickled %s (%s) with the restricted unpickler", path, type(value).__name__)
    return value


def is_pickled_scaler(value: object) -> bool:
    """True for a scikit-learn scaler restored by :func:`load_restricted`."""
    return isinstance(value, PickledObject) and value.class_name in SCALER_CLASS_NAMES


__all__: list[str] = [
    "SCALER_CLASS_NAMES",
    "PickledObject",
    "RestrictedUnpickler",
    "is_pickled_scaler",
    "load_restricted",
    "loads_restricted",
]
