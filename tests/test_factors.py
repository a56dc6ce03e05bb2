import numpy as np
import pytest

from vaejax.data import factors


def test_sizes_and_bases_agree():
    sizes = np.array(factors.FACTOR_SIZES)
    # Each base is the product of the sizes of the factors after it.
    expected = [int(np.prod(sizes[i + 1:])) for i in range(6)]
    assert expected[1:] == list(factors.FACTOR_BASES[1:])
    assert int(np.prod(sizes)) == factors.NUM_IMAGES == factors.FACTOR_BASES[0]


@pytest.mark.parametrize("index", [
    np.array([0, 1, 31, 32, 1023, 1024, 40959, 40960, 245759, 245760, 737279]),
    np.random.default_rng(0).integers(0, factors.NUM_IMAGES, 5000),
])
def test_index_round_trip(index):
    classes = factors.index_to_classes(index)
    assert classes.shape == (len(index), 6)
    assert (classes >= 0).all() and (classes < np.array(factors.FACTOR_SIZES)).all()
    np.testing.assert_array_equal(factors.classes_to_index(classes), index)


def test_boundary_classes():
    last = np.array([[s - 1 for s in factors.FACTOR_SIZES]])
    assert factors.classes_to_index(last)[0] == factors.NUM_IMAGES - 1
    np.testing.assert_array_equal(factors.index_to_classes([factors.NUM_IMAGES - 1]), last)
    np.testing.assert_array_equal(factors.index_to_classes([0]), np.zeros((1, 6), int))


def test_all_classes_is_file_order():
    classes = factors.all_classes()
    np.testing.assert_array_equal(factors.classes_to_index(classes), np.arange(factors.NUM_IMAGES))
    # posY varies fastest, then posX, orientation, scale, shape.
    np.testing.assert_array_equal(classes[:3, 5], [0, 1, 2])
    np.testing.assert_array_equal(classes[32], [0, 0, 0, 0, 1, 0])


def test_factor_values_match_definitions():
    values = factors.factor_values()
    assert [len(v) for v in values] == list(factors.FACTOR_SIZES)
    np.testing.assert_array_equal(values[0], [1.0])
    np.testing.assert_array_equal(values[1], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(values[2], np.linspace(0.5, 1, 6))
    np.testing.assert_array_equal(values[3], np.linspace(0, 2 * np.pi, 40))
    np.testing.assert_array_equal(values[4], np.linspace(0, 1, 32))
    np.testing.assert_array_equal(values[5], np.linspace(0, 1, 32))
    assert values[3][-1] == pytest.approx(2 * np.pi)
    for v in values:
        assert v.dtype == np.float64


def test_classes_to_values():
    classes = np.array([[0, 2, 5, 39, 31, 0], [0, 0, 0, 0, 0, 31]])
    np.testing.assert_allclose(classes_values := factors.classes_to_values(classes),
                               [[1, 3, 1.0, 2 * np.pi, 1.0, 0.0], [1, 1, 0.5, 0, 0, 1.0]])
    assert classes_values.dtype == np.float64


@pytest.mark.parametrize("bad, match", [
    (np.zeros((2, 5), int), r"shape \(N, 6\)"),
    (np.zeros((2, 6)), "integers"),
    (np.array([[0, 3, 0, 0, 0, 0]]), "'shape'"),
    (np.array([[0, 0, 0, 40, 0, 0]]), "'orientation'"),
    (np.array([[0, 0, 0, 0, 0, -1]]), "'posY'"),
])
def test_bad_classes_name_the_problem(bad, match):
    with pytest.raises(ValueError, match=match):
        factors.classes_to_index(bad)


def test_bad_index():
    with pytest.raises(ValueError, match="index must lie"):
        factors.index_to_classes([factors.NUM_IMAGES])
