"""The expect_* checks used by the notebooks' tests: they fail with helpful messages."""

import numpy as np
import pytest

from unet_course import checks


def test_expect_array_names_the_first_difference():
    with pytest.raises(AssertionError) as err:
        checks.expect_array(np.array([[1, 2], [3, 5]]), [[1, 2], [3, 4]], "thing")
    message = str(err.value)
    assert "thing" in message and "(1, 1)" in message and "expected 4" in message
    assert "got 5" in message and "1 of 4 values differ" in message


def test_expect_array_reports_shape_and_none():
    with pytest.raises(AssertionError, match=r"expected shape \(2,\), got \(3,\)"):
        checks.expect_array([1, 2, 3], [1, 2], "x")
    with pytest.raises(AssertionError, match="forget to `return`"):
        checks.expect_array(None, [1], "x")


def test_expect_array_passes_within_tolerance_and_accepts_tensors():
    tf = pytest.importorskip("tensorflow")
    checks.expect_close(tf.constant([0.1, 0.2]), [0.1 + 1e-8, 0.2], "close")
    with pytest.raises(AssertionError, match="tolerance"):
        checks.expect_close([0.1], [0.2], "far", atol=1e-3)


def test_hints_are_appended():
    with pytest.raises(AssertionError, match="Hint: use nearest"):
        checks.expect_values_in([0, 1, 7], {0, 1, 2}, "mask", hint="use nearest")


def test_expect_raises():
    checks.expect_raises(lambda: int("x"), ValueError, "parse")
    with pytest.raises(AssertionError, match="expected an error"):
        checks.expect_raises(lambda: 1, ValueError, "no error")
    with pytest.raises(AssertionError, match="expected ValueError, got KeyError"):
        checks.expect_raises(lambda: {}["k"], ValueError, "wrong error")


def test_expect_raises_naming_wants_the_words_in_the_message():
    def bad(values):
        raise ValueError(f"not a trimap: found {values}")

    checks.expect_raises_naming(lambda: bad([1, 4]), ValueError, ["4"], "names it")
    with pytest.raises(AssertionError, match=r"should name '7'; its message is"):
        checks.expect_raises_naming(lambda: bad([1, 4]), ValueError, ["7"], "misses it")
    with pytest.raises(AssertionError, match="returned normally"):
        checks.expect_raises_naming(lambda: 1, ValueError, ["1"], "no error")
    with pytest.raises(AssertionError, match="expected ValueError, got KeyError"):
        checks.expect_raises_naming(lambda: {}["k"], ValueError, ["k"], "wrong error")
    with pytest.raises(NotImplementedError, match="exercise 1"):  # the stub's own message
        checks.expect_raises_naming(_stub, ValueError, [], "unanswered")


def _stub():
    raise NotImplementedError("exercise 1 (to_class_ids) is not answered yet")


def test_expect_dtype_and_equal():
    checks.expect_dtype(np.zeros(2, np.uint8), "u", "ids")
    with pytest.raises(AssertionError, match="unsigned integer array, got dtype float32"):
        checks.expect_dtype(np.zeros(2, np.float32), "u", "ids")
    with pytest.raises(AssertionError, match=r"n: expected 3, got 4\."):
        checks.expect_equal(4, 3, "n")


def test_expect_equal_takes_plain_values_only():
    checks.expect_equal(np.int64(3), 3, "x")
    checks.expect_equal(1.0, 1, "x")

    class Liar:
        def __eq__(self, other):
            return True

    for found in (Liar(), (568, 280), np.array([568, 280]), [Liar(), 280]):
        with pytest.raises(AssertionError):
            checks.expect_equal(found, [568, 280], "sizes")


def test_expect_shape_reads_the_shape_of_what_it_is_given():
    checks.expect_shape(np.zeros((4, 4)), (4, 4), "a")
    checks.expect_shape([[1, 2, 3]], (1, 3), "nested lists")
    with pytest.raises(AssertionError, match=r"expected shape \(4, 4\), got \(2,\)"):
        checks.expect_shape((4, 4), (4, 4), "a tuple is data, not a shape")
    with pytest.raises(AssertionError, match="forget to `return`"):
        checks.expect_shape(None, (4, 4), "nothing")
