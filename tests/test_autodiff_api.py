"""The differentiation API, rule by rule (../shared/API.md, "Rules of the road")."""
import numpy as np
import pytest

import api_programs as ap
import irad

AD = irad.AutoInterpreter()


def test_gradient_returns_one_entry_per_argument():
    assert irad.gradient(ap.mul3, AD, 2.0, 3.0, 5.0) == (15.0, 10.0, 6.0)


def test_withgradient_value_and_gradient():
    y, grad = irad.withgradient(ap.div, AD, 1, 2)
    assert y == 0.5 and grad == (0.5, -0.25)


def test_withgradient_differentiates_first_element_of_dict_and_tuple():
    r = irad.withgradient(ap.div_dict, AD, 3.0, 4.0)
    assert r.val == {"div": 0.75, "mul": 12.0} and r.grad == (0.25, -0.1875)
    r = irad.withgradient(ap.first_of_tuple, AD, 3.0)
    assert r.val == (9.0, 4.0) and r.grad == (6.0,)


def test_gradient_rejects_non_scalar_output_and_points_to_jacobian():
    with pytest.raises(irad.IradError, match="returns array<f64,1,C>") as info:
        irad.gradient(ap.returns_array, AD, 1.0)
    assert "jacobian" in str(info.value)
    with pytest.raises(irad.IradError, match="jacobian"):
        irad.gradient(ap.first_of_tuple, AD, 1.0)


def test_array_gradient_is_float64_also_for_integer_arrays():
    g = irad.gradient(ap.int_power_sum, AD, np.array([7, 11]), 0, 0)
    assert g[0].dtype == np.float64
    np.testing.assert_array_equal(g[0], [14.0, 22.0])
    assert g[1] == 2.0 and g[2] is None


def test_float32_arrays_get_float32_gradients():
    g = irad.gradient(ap.sumsq, AD, np.array([1.0, 2.0], dtype=np.float32))
    assert g[0].dtype == np.float32
    np.testing.assert_allclose(g[0], [2.0, 4.0])


def test_no_active_path_gives_none():
    g = irad.gradient(ap.uses_only_shape, AD, np.ones(3), 2.0)
    assert g == (None, 3.0)


def test_strings_and_booleans_get_none():
    assert irad.gradient(ap.string_arg, AD, 1.5, "double") == (2.0, None)
    assert irad.gradient(ap.bool_arg, AD, 1.5, True) == (3.0, None)


def test_gradient_has_the_structure_of_the_argument():
    g = irad.gradient(ap.pair_fn, AD, ap.Pair(2.0, 3.0))
    assert isinstance(g[0], ap.Pair) and g[0] == ap.Pair(9.0, 12.0)
    p = ap.Params(np.array([1.0, 2.0]), 0.5)
    g = irad.gradient(ap.params_fn, AD, p, np.array([3.0, 4.0]))
    assert isinstance(g[0], ap.Params)
    np.testing.assert_allclose(g[0].w, [2 * 3.5 * 3.0, 2 * 8.5 * 4.0])
    assert g[0].c == pytest.approx(2 * 3.5 + 2 * 8.5)
    g = irad.gradient(lambda t: t[0] * t[1], AD, (2.0, 3))
    assert g == ((3.0, 2.0),)


def test_plain_arguments_all_get_gradients_for_a_model_dict():
    rng = np.random.default_rng(0)
    model = {"w": rng.standard_normal((3, 4)), "b": np.zeros(3)}
    x, y = rng.standard_normal(4), rng.standard_normal(3)
    g = irad.gradient(ap.loss, AD, model, x, y)
    assert set(g[0]) == {"w", "b"} and g[1].shape == (4,) and g[2].shape == (3,)
    want = irad.gradient(ap.loss, irad.AutoFiniteDifferences(), model, x, y)
    for k in ("w", "b"):
        np.testing.assert_allclose(g[0][k], want[0][k], rtol=1e-5, atol=1e-7)


def test_duplicated_model_makes_plain_arguments_const_and_fills_dval():
    rng = np.random.default_rng(1)
    model = {"w": rng.standard_normal((3, 4)), "b": np.zeros(3)}
    x, y = rng.standard_normal(4), rng.standard_normal(3)
    dup = irad.Duplicated(model)
    g = irad.gradient(ap.loss, AD, dup, irad.Const(x), irad.Const(y))
    assert g[1] is None and g[2] is None
    assert g[0] is dup.dval
    first = dup.dval["w"].copy()
    g2 = irad.gradient(ap.loss, AD, dup, x, y)
    assert g2[1] is None and g2[2] is None
    np.testing.assert_allclose(dup.dval["w"], first)
    irad.gradient(ap.loss, AD, dup, x, y, zero=False)
    np.testing.assert_allclose(dup.dval["w"], 2 * first)


def test_duplicated_accumulates_into_given_buffer():
    x, dx = np.array([1.0, 2.0]), np.array([10.0, 10.0])
    g = irad.gradient(ap.sumsq, AD, irad.Duplicated(x, dx))
    assert g[0] is dx
    np.testing.assert_array_equal(dx, [2.0, 4.0])
    irad.gradient(ap.sumsq, AD, irad.Duplicated(x, dx), zero=False)
    np.testing.assert_array_equal(dx, [4.0, 8.0])


def test_duplicated_mutating_function_keeps_zygote_accumulation():
    x, dx = np.array([1.0, 2.0]), np.array([1.0, 1.0])
    irad.gradient(ap.mutates, AD, irad.Duplicated(x, dx), zero=False)
    np.testing.assert_array_equal(dx, [1.0 + 2.0, 1.0 + 4.0])
    np.testing.assert_array_equal(x, [1.0, 4.0])


@pytest.mark.parametrize("bad", [np.zeros(3), np.zeros(2, dtype=np.float32), "alias"])
def test_bad_shadow_is_rejected(bad):
    x = np.ones(2)
    dx = x if isinstance(bad, str) else bad
    with pytest.raises(irad.IradError):
        irad.gradient(ap.sumsq, AD, irad.Duplicated(x, dx))


def test_active_on_an_array_is_rejected():
    with pytest.raises(irad.IradError, match="Active"):
        irad.Active(np.ones(3))


def test_active_and_const_annotations():
    assert irad.gradient(ap.mul3, AD, irad.Active(2.0), irad.Const(3.0), 5.0) == (15.0, None, 6.0)


@pytest.mark.parametrize("adtype", [irad.AutoReverse(), irad.AutoInterpreter()], ids=["native", "interp"])
def test_a_const_array_that_receives_active_values_passes_their_derivatives_on(adtype):
    """Const means "no gradient for this argument", not "its contents are constant": reverse
    mode keeps a private shadow for it, so the other gradients are the ones a plain argument
    gives, and its own is None."""
    u = np.sin(np.linspace(0.0, 3.0, 7))
    const = irad.gradient(ap.wave, adtype, u.copy(), irad.Const(np.zeros(7)), 0.3, irad.Const(4))
    plain = irad.gradient(ap.wave, adtype, u.copy(), np.zeros(7), 0.3, irad.Const(4))
    assert const[1] is None and const[3] is None
    np.testing.assert_allclose(const[0], plain[0], rtol=1e-13)
    assert const[2] == pytest.approx(plain[2], rel=1e-13)


def test_check_gradient_restores_const_and_duplicated_arrays_between_evaluations():
    u, v = np.sin(np.linspace(0.0, 3.0, 7)), np.zeros(7)
    irad.check_gradient(ap.wave, u, irad.Const(v), 0.3, irad.Const(4))
    dup = irad.Duplicated(u)
    irad.check_gradient(ap.wave, dup, irad.Const(v), irad.Active(0.3), irad.Const(4))
    irad.check_gradient(ap.wave, dup, v, 0.3, 4)       # with a Duplicated, the others are Const
    np.testing.assert_array_equal(v, np.zeros(7))
    np.testing.assert_array_equal(u, np.sin(np.linspace(0.0, 3.0, 7)))
    assert np.any(dup.dval != 0.0)


def test_finite_differences_adtype():
    g = irad.gradient(lambda x: 2.0 * x[0] + 2.0 * x[1], irad.AutoFiniteDifferences(), np.array([1.0, 2.0]))
    np.testing.assert_allclose(g[0], [2.0, 2.0], rtol=1e-6)


def test_pullback_reuses_the_forward_sweep():
    y, back = irad.pullback(ap.mul3, AD, 2.0, 3.0, 5.0)
    assert y == 30.0 and back(1.0) == (15.0, 10.0, 6.0) and back(2.0) == (30.0, 20.0, 12.0)
    y, back = irad.pullback(ap.returns_array, AD, 1.0)
    np.testing.assert_array_equal(y, [1.0, 1.0])
    assert back(np.array([1.0, 1.0])) == (2.0,)
    assert back(np.array([3.0, 0.0])) == (3.0,)


def test_jit_gradient_and_value():
    g = irad.jit_gradient(ap.mul3, target="interpreter")
    assert g(2.0, 3.0, 5.0) == (15.0, 10.0, 6.0)
    v = irad.jit_gradient(ap.div, value=True, target="interpreter")
    assert v(1.0, 2.0) == (0.5, (0.5, -0.25))
    assert len(g.differentiator.programs) == 1
    g(4.0, 3.0, 5.0)
    assert len(g.differentiator.programs) == 1


def test_check_gradient_passes_and_reports_mismatch():
    irad.check_gradient(ap.sumsq, AD, np.array([1.0, -2.0, 0.5]))
    x = np.array([1.0, 2.0])
    irad.check_gradient(ap.mutates, AD, x)
    np.testing.assert_array_equal(x, [1.0, 2.0])
    with pytest.raises(irad.GradientMismatch, match="irad 1.0"):
        irad.check_gradient(ap.sawtooth, AD, 1.0)


def test_nan_inputs_give_nan_gradients():
    g = irad.gradient(ap.mul3, AD, float("nan"), 1.0, 2.0)
    assert g[0] == 2.0 and all(v != v for v in g[1:])


FLAT_CASES = [
    (ap.mul3, lambda: (2.0, 3.0, 5.0)),
    (ap.mul3, lambda: (irad.Active(2.0), irad.Const(3.0), 5.0)),
    (ap.bool_arg, lambda: (1.5, True)),
    (ap.int_power_sum, lambda: (np.array([7, 11]), 0, 0)),
    (ap.uses_only_shape, lambda: (np.ones(3), 2.0)),
    (ap.uses_only_shape, lambda: (irad.Duplicated(np.ones(3), np.full(3, 7.0)), irad.Active(2.0))),
    (ap.sumsq, lambda: (np.array([1.0, 2.0], dtype=np.float32),)),
    (ap.sumsq, lambda: (irad.Duplicated(np.array([1.0, 2.0]), np.array([5.0, 5.0])),)),
    (ap.mutates, lambda: (irad.Duplicated(np.array([1.0, 2.0])),)),
]


def _same(a, b):
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("fn, make", FLAT_CASES)
@pytest.mark.parametrize("zero", [True, False])
def test_flat_arguments_take_the_prepared_path_with_the_same_results(fn, make, zero):
    g = irad.jit_gradient(fn, value=True)
    first = g(*make(), zero=zero)                   # the general path prepares the flat call
    assert len(g.differentiator.flat_calls) == 1
    args = make()
    again = g(*args, zero=zero)                     # the prepared path
    assert _same(again, first)
    expected = irad.withgradient(fn, AD, *make(), zero=zero)
    assert _same(again.val, expected.val) or np.isclose(again.val, expected.val)
    for got, want in zip(again.grad, expected.grad):
        assert (got is None) == (want is None)
        if got is not None:
            np.testing.assert_allclose(got, want, rtol=1e-12)
    for a, got in zip(args, again.grad):
        if isinstance(a, irad.Duplicated) and got is not None:
            assert got is a.dval


def test_flat_path_accumulates_into_duplicated_shadows():
    g = irad.jit_gradient(ap.sumsq)
    x, dx = np.array([1.0, 2.0]), np.array([10.0, 10.0])
    for _ in range(2):
        assert g(irad.Duplicated(x, dx))[0] is dx
        np.testing.assert_array_equal(dx, [2.0, 4.0])
    g(irad.Duplicated(x, dx), zero=False)
    np.testing.assert_array_equal(dx, [4.0, 8.0])


@pytest.mark.parametrize("bad", [np.zeros(3), np.zeros(2, dtype=np.float32), "alias"])
def test_flat_path_rejects_a_bad_shadow(bad):
    g = irad.jit_gradient(ap.sumsq)
    x = np.ones(2)
    g(irad.Duplicated(x, np.zeros(2)))
    dx = x if isinstance(bad, str) else bad
    with pytest.raises(irad.IradError):
        g(irad.Duplicated(x, dx))


def test_structured_arguments_are_not_prepared():
    g = irad.jit_gradient(ap.pair_fn)
    assert g(ap.Pair(2.0, 3.0)) == g(ap.Pair(2.0, 3.0)) == (ap.Pair(9.0, 12.0),)
    assert not g.differentiator.flat_calls


def _sum_of_sines(x):
    return np.sum(np.sin(x))


@pytest.mark.parametrize("stage,marker", [("typed", "func @_sum_of_sines("),
                                          ("optimized", "sin "),
                                          ("gradient", "func @_sum_of_sines.grad("),
                                          ("gradient-unoptimized", "func @_sum_of_sines.grad("),
                                          ("llvm", "define"), ("llvm-optimized", "define"),
                                          ("asm", "ret")])
def test_gradient_ir_at_every_stage(stage, marker):
    assert marker in irad.jit_gradient(_sum_of_sines).ir(np.ones(3), stage=stage)


def test_gradient_ir_native_stages_need_a_native_target():
    with pytest.raises(ValueError, match="needs target='cpu'"):
        irad.jit_gradient(_sum_of_sines, target="interpreter").ir(np.ones(3), stage="llvm")
    with pytest.raises(ValueError, match="unknown stage"):
        irad.jit_gradient(_sum_of_sines).ir(np.ones(3), stage="bitcode")


def test_irad_dump_prints_gradient_stages(capfd, monkeypatch):
    monkeypatch.setenv("IRAD_DUMP", "gradient,llvm-optimized")
    irad.jit_gradient(_sum_of_sines)(np.ones(3))
    err = capfd.readouterr().err
    assert "stage gradient ----" in err and "func @_sum_of_sines.grad(" in err
    assert "stage llvm-optimized ----" in err and "define" in err


def _doubled(x):
    return x * 2.0


def test_pullback_seed_of_the_wrong_shape_is_a_clear_error():
    y, back = irad.pullback(_doubled, np.ones(5))
    np.testing.assert_array_equal(back(np.arange(5.0))[0], 2.0 * np.arange(5.0))
    np.testing.assert_array_equal(back(None)[0], np.zeros(5))
    for bad in (np.ones(2), np.ones(7), np.ones((5, 1))):
        with pytest.raises(irad.IradError, match=r"seed for result 0 has shape .* result has shape \(5,\)"):
            back(bad)


def test_reverse_sweep_accesses_are_marked_inbounds_and_the_forward_ones_are_not():
    text = irad.jit_gradient(_sum_of_sines, value=True).ir(np.ones(3), stage="gradient")
    loads = [line for line in text.splitlines() if " load " in line]
    assert any("{inbounds = true}" in line for line in loads)   # the reverse sweep's
    assert any("inbounds" not in line for line in loads)        # the forward sweep's
