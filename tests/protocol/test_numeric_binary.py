"""numeric_send with a known scale (integer arithmetic) equals the general digit-string route."""

from __future__ import annotations

import decimal

from hypothesis import given
from hypothesis import strategies as st

from gateway.protocol import pgvalue


@given(st.integers(-(10**38), 10**38) | st.sampled_from([0, 1, -1, 10**30, -(10**30), 9999, 10000]),
       st.integers(0, 20))
def test_scaled_route_equals_general_route(unscaled: int, scale: int) -> None:
    value = decimal.Decimal(unscaled).scaleb(-scale)
    general = pgvalue.numeric_binary(value.quantize(decimal.Decimal(1).scaleb(-scale), context=pgvalue._WIDE))
    assert pgvalue.numeric_binary(value, scale) == general
