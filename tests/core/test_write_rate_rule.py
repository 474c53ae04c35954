"""One rule for the write rate, wherever it comes from (core/settings.resolve_write_rate).

0 sends writes unpaced (README's `push` row, DriveSyncApp.write_rate's help); any other finite
value of 0 or more is writes per second. Negative, NaN and infinity mean nothing a pacer can use,
so they are refused with a ConfigError that names where the value came from.
"""

from __future__ import annotations

import math

import pytest

from jupyter_drive_sync.core.errors import ConfigError
from jupyter_drive_sync.core.settings import WRITE_RATE_ENV, resolve_write_rate

BAD_VALUES = [-1.0, -0.5, math.nan, math.inf, -math.inf]
BAD_TEXTS = ["-1", "nan", "inf", "-inf", "Infinity", "fast"]


@pytest.mark.parametrize("value", [0, 0.0, 0.25, 3, 200.0])
def test_an_explicit_rate_of_zero_or_more_is_kept(value):
    assert resolve_write_rate(value, {}) == float(value)


@pytest.mark.parametrize("value", BAD_VALUES)
def test_an_explicit_rate_out_of_range_is_refused_naming_its_source(value):
    with pytest.raises(ConfigError) as err:
        resolve_write_rate(value, {}, name="--write-rate")
    assert str(err.value).startswith("--write-rate must be") and "\n" not in str(err.value)


@pytest.mark.parametrize("text,rate", [("0", 0.0), (" 2.5 ", 2.5), ("", None), ("  ", None)])
def test_the_environment_variable_when_no_value_is_given(text, rate):
    assert resolve_write_rate(None, {WRITE_RATE_ENV: text}) == rate


@pytest.mark.parametrize("text", BAD_TEXTS)
def test_an_environment_variable_out_of_range_is_refused_naming_the_variable(text):
    with pytest.raises(ConfigError) as err:
        resolve_write_rate(None, {WRITE_RATE_ENV: text}, name="--write-rate")
    assert str(err.value).startswith(WRITE_RATE_ENV) and repr(text) in str(err.value)


def test_an_explicit_rate_wins_over_the_environment():
    assert resolve_write_rate(4, {WRITE_RATE_ENV: "0"}) == 4.0
    with pytest.raises(ConfigError):  # and is checked even when the variable holds a good value
        resolve_write_rate(math.inf, {WRITE_RATE_ENV: "3"})
