"""Errors name the user's line (Note [Source sites] in csrc/core/site.h): shape, dtype and device errors raised
in an op, the in-place version error (the line that saved the tensor and the line that modified it), a NaN found
by detect_anomaly and a custom Function's wrong gradient in backward all say `file.py:LINE in function` of this
file, even where the op was called from inside pyad."""

import os
import re
import sys

import pytest

import pyad

HERE = os.path.basename(__file__)


def line_after():
    """The line number just after the caller's current line (where the op under test is written)."""
    return sys._getframe(1).f_lineno + 1


def site(line, function):
    return f"{HERE}:{line} in {function}"


def test_shape_error_in_an_op_names_the_line():
    a, b = pyad.ones(3, 4), pyad.ones(5, 2)
    with pytest.raises(ValueError) as e:
        line = line_after()
        a @ b
    assert site(line, "test_shape_error_in_an_op_names_the_line") in str(e.value)
    assert str(e.value).startswith("[matmul]")


def test_dtype_error_names_the_line():
    x = pyad.ones(2, dtype=pyad.bool)
    with pytest.raises(TypeError) as e:
        line = line_after()
        pyad.neg(x)
    assert site(line, "test_dtype_error_names_the_line") in str(e.value)


@pytest.mark.skipif(not pyad.cuda.is_available(), reason="a device mismatch needs a GPU")
def test_device_error_names_the_line():
    x, y = pyad.ones(2), pyad.ones(2, device="cuda")
    with pytest.raises(RuntimeError, match="same device") as e:
        line = line_after()
        x + y
    assert site(line, "test_device_error_names_the_line") in str(e.value)


def _call_through_pyad(x, w):
    return pyad.nn.functional.linear(x, w)


def test_error_inside_pyad_code_names_the_users_line():
    x, w = pyad.ones(2, 3), pyad.ones(4, 5)
    with pytest.raises(ValueError) as e:
        line = line_after()
        pyad.nn.functional.linear(x, w)
    msg = str(e.value)
    assert site(line, "test_error_inside_pyad_code_names_the_users_line") in msg
    assert "functional.py" not in msg


def test_node_records_the_users_line_through_a_module():
    lin = pyad.nn.Linear(3, 2)
    x = pyad.ones(4, 3)
    line = line_after()
    y = lin(x)
    assert y.grad_fn._site.endswith("/" + site(line, "test_node_records_the_users_line_through_a_module"))
    line = line_after()
    z = y * 2.0
    assert z.grad_fn._site.endswith("/" + site(line, "test_node_records_the_users_line_through_a_module"))


def test_version_error_names_where_saved_and_where_modified():
    x = pyad.ones(3, requires_grad=True)
    y = x * 2.0
    saved = line_after()
    z = y.sin()  # SinBackward0 saves y
    modified = line_after()
    y.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation") as e:
        z.sum().backward()
    fn = "test_version_error_names_where_saved_and_where_modified"
    msg = str(e.value)
    assert re.search(rf"saved by SinBackward0 created at \S*/{re.escape(site(saved, fn))}\.", msg), msg
    assert re.search(rf"modified in place at \S*/{re.escape(site(modified, fn))}\.", msg), msg


def test_anomaly_nan_names_the_line():
    x = pyad.zeros(2, requires_grad=True)
    with pyad.autograd.detect_anomaly():
        line = line_after()
        y = x.sqrt()
        with pytest.raises(RuntimeError, match="nan or inf") as e:
            y.sum().backward()
    assert site(line, "test_anomaly_nan_names_the_line") in str(e.value)


class WrongShape(pyad.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2.0

    @staticmethod
    def backward(ctx, g):
        return g.sum()  # shape () for an input of shape (3,)


def test_custom_function_wrong_gradient_shape_names_where_applied():
    x = pyad.ones(3, requires_grad=True)
    line = line_after()
    y = WrongShape.apply(x)
    with pytest.raises(RuntimeError, match="gradient of shape") as e:
        y.sum().backward()
    assert site(line, "test_custom_function_wrong_gradient_shape_names_where_applied") in str(e.value)


def test_sites_survive_the_graph_and_code_objects_going_away():
    # Code compiled on the fly, freed once run: the node keeps its code object, so the site still formats.
    ns = {"pyad": pyad}
    exec(compile("x = pyad.ones(2, requires_grad=True)\ny = x.exp()\n", "generated.py", "exec"), ns)
    assert ns["y"].grad_fn._site == "generated.py:2 in <module>"
    ns["y"].sum().backward()
    del ns
