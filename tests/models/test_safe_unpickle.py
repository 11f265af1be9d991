"""The restricted unpickler: scikit-learn scalers and numpy data load, anything else is refused."""

from __future__ import annotations

import os
import pickle
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler

from wxstream.errors import ModelFormatError, UntrustedPickleError
from wxstream.models.safe_unpickle import (
    PickledObject,
    is_pickled_scaler,
    load_restricted,
    loads_restricted,
)

SCALERS = (MinMaxScaler, StandardScaler, RobustScaler, MaxAbsScaler)
PROTOCOLS = tuple(range(pickle.HIGHEST_PROTOCOL + 1))


class _RunsShell:
    """Pickles as a call of ``os.system``: what a hostile pickle looks like."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (self.command,))


class _StartsProcess:
    def __reduce__(self) -> tuple[Any, tuple[list[str]]]:
        return (subprocess.Popen, (["true"],))


def _same_state(restored: PickledObject, original: object) -> bool:
    expected = vars(original)
    if set(restored.state) - {"_sklearn_version"} != set(expected):
        return False
    return all(
        np.array_equal(np.asarray(restored.state[k]), np.asarray(v)) for k, v in expected.items()
    )


columns = hnp.arrays(
    np.float64,
    st.tuples(st.integers(2, 20), st.integers(1, 5)),
    elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=columns,
    scaler_cls=st.sampled_from(SCALERS),
    protocol=st.sampled_from(PROTOCOLS),
)
def test_fitted_scalers_restore_their_attributes(
    values: np.ndarray[Any, Any], scaler_cls: type[Any], protocol: int
) -> None:
    scaler = scaler_cls().fit(values)
    restored = loads_restricted(pickle.dumps(scaler, protocol=protocol), source="scaler.pkl")
    assert is_pickled_scaler(restored)
    assert restored.class_name == scaler_cls.__name__
    assert _same_state(restored, scaler)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_scaler_fitted_on_a_dataframe_keeps_feature_names(protocol: int) -> None:
    import pandas as pd

    frame = pd.DataFrame({"temperature": [1.0, 2.0, 4.0], "dewpoint": [0.5, 0.0, -1.0]})
    scaler = StandardScaler().fit(frame)
    restored = loads_restricted(pickle.dumps(scaler, protocol=protocol), source="s.pkl")
    assert list(restored.state["feature_names_in_"]) == ["temperature", "dewpoint"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_plain_containers_and_numpy_values_load(protocol: int) -> None:
    value = {
        "feature_columns": ["temperature", "wind_speed", "dewpoint"],
        "lookback": np.int64(7),
        "shape": (7, 3),
        "flags": {"a", "b"},
        "ratio": 0.25,
        "raw": b"\x00\xff",
        "table": np.arange(6, dtype=np.float32).reshape(2, 3),
    }
    restored = loads_restricted(pickle.dumps(value, protocol=protocol), source="d.pkl")
    assert restored.keys() == value.keys()
    assert restored["lookback"] == 7
    assert restored["flags"] == {"a", "b"}
    assert restored["raw"] == b"\x00\xff"
    np.testing.assert_array_equal(restored["table"], value["table"])


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_os_system_is_refused_without_running(tmp_path: Path, protocol: int) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "scaler_X.pkl"
    path.write_bytes(pickle.dumps({"x": _RunsShell(f"touch {marker}")}, protocol=protocol))
    with pytest.raises(UntrustedPickleError) as info:
        load_restricted(path)
    assert str(path) in info.value.message
    assert "system" in info.value.message
    assert info.value.fix
    assert not marker.exists()


def test_subprocess_is_refused() -> None:
    with pytest.raises(UntrustedPickleError, match=r"subprocess\.Popen"):
        loads_restricted(pickle.dumps(_StartsProcess()), source="evil.pkl")


def test_an_unlisted_sklearn_class_is_refused() -> None:
    from sklearn.preprocessing import QuantileTransformer

    fitted = QuantileTransformer(n_quantiles=3).fit(np.array([[1.0], [2.0], [3.0]]))
    with pytest.raises(UntrustedPickleError, match="QuantileTransformer"):
        loads_restricted(pickle.dumps(fitted), source="q.pkl")


def test_joblib_files_are_named_as_such(tmp_path: Path) -> None:
    import joblib

    path = tmp_path / "scaler_y.pkl"
    joblib.dump(MinMaxScaler().fit(np.array([[1.0], [3.0]])), path)
    with pytest.raises(UntrustedPickleError, match="joblib") as info:
        load_restricted(path)
    assert info.value.fix is not None
    assert "pickle.dump" in info.value.fix


def test_truncated_pickle_is_a_format_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "scaler_X.pkl"
    path.write_bytes(pickle.dumps(StandardScaler().fit(np.array([[1.0], [2.0]])))[:40])
    with pytest.raises(ModelFormatError, match=r"scaler_X\.pkl"):
        load_restricted(path)


def test_missing_file_is_a_format_error(tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError, match=r"absent\.pkl"):
        load_restricted(tmp_path / "absent.pkl")


def test_allowed_class_with_non_dict_state_is_a_format_error() -> None:
    # NEWOBJ of an allowed class, then BUILD with a list instead of an attribute dict.
    data = (
        b"\x80\x04\x8c\x1bsklearn.preprocessing._data\x94\x8c\x0cMinMaxScaler\x94\x93\x94"
        b")\x81\x94]\x94K\x01ab."
    )
    with pytest.raises(ModelFormatError, match="not a dict of attributes"):
        loads_restricted(data, source="odd.pkl")
