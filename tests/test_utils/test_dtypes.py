"""resolve_dtype: the dtype names configs use."""
import pytest
import torch

from alpro.utils.dtypes import resolve_dtype

ALLOWED = (torch.float16, torch.bfloat16)


def test_names_and_dtypes_resolve():
    assert resolve_dtype('bfloat16', ALLOWED, 'x') is torch.bfloat16
    assert resolve_dtype(torch.float16, ALLOWED, 'x') is torch.float16
    assert resolve_dtype(None, ALLOWED, 'x') is None


@pytest.mark.parametrize('value', ['float32', torch.float32, 'bf16', 8])
def test_others_are_refused_by_name(value):
    with pytest.raises(ValueError) as error:
        resolve_dtype(value, ALLOWED, 'Loop: dtype')
    assert str(error.value) == (f"Loop: dtype={value!r}; use None or one of "
                                "['bfloat16', 'float16']")
