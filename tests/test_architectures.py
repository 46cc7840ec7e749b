"""The course's own U-Net builder reproduces the architectures of COURSE.md exactly.

The builder is taken from the solution notebook ``solutions/04_unet/04_unet.ipynb`` at
test time: the imports and function definitions of its code cells are executed (nothing
else, so no model is built or trained on the way), and the tests call the notebook's
``build_unet``, ``unet_output_size``, ``unet_margin`` and ``nearest_input_sizes``. There is
no second copy of the builder anywhere.
"""

import pytest

pytest.importorskip("keras")

from autograder import course, nbcode  # noqa: E402

NOTEBOOK = course.SOLUTIONS / "04_unet" / "04_unet.ipynb"

# COURSE.md, "Architectures to reproduce exactly".
TABLE = {
    "Ronneberger et al. 2015": (
        dict(
            input_shape=(572, 572, 1),
            num_classes=2,
            base_filters=64,
            depth=5,
            padding="valid",
            upconv_kernel=2,
        ),
        (None, 388, 388, 2),
        31_030_658,
    ),
    "MachineCurve U-Net": (
        dict(
            input_shape=(100, 100, 3),
            num_classes=3,
            base_filters=64,
            depth=3,
            padding="valid",
            upconv_kernel=2,
        ),
        (None, 60, 60, 3),
        1_862_979,
    ),
    "Tiny U-Net": (
        dict(
            input_shape=(256, 256, 3),
            num_classes=1,
            base_filters=32,
            depth=5,
            padding="same",
            upconv_kernel=2,
            head_activation="sigmoid",
        ),
        (None, 256, 256, 1),
        7_760_097,
    ),
    "CARLA U-Net": (
        dict(
            input_shape=(96, 128, 3),
            num_classes=23,
            base_filters=32,
            depth=5,
            padding="same",
            upconv_kernel=3,
            dropout=0.3,
            dropout_levels=2,
            extra_conv=True,
        ),
        (None, 96, 128, 23),
        8_640_471,
    ),
}

# The CARLA model's published summary (layer type, output shape, parameters), in its order.
CARLA_SUMMARY = [
    ("InputLayer", (None, 96, 128, 3), 0),
    ("Conv2D", (None, 96, 128, 32), 896),
    ("Conv2D", (None, 96, 128, 32), 9_248),
    ("MaxPooling2D", (None, 48, 64, 32), 0),
    ("Conv2D", (None, 48, 64, 64), 18_496),
    ("Conv2D", (None, 48, 64, 64), 36_928),
    ("MaxPooling2D", (None, 24, 32, 64), 0),
    ("Conv2D", (None, 24, 32, 128), 73_856),
    ("Conv2D", (None, 24, 32, 128), 147_584),
    ("MaxPooling2D", (None, 12, 16, 128), 0),
    ("Conv2D", (None, 12, 16, 256), 295_168),
    ("Conv2D", (None, 12, 16, 256), 590_080),
    ("Dropout", (None, 12, 16, 256), 0),
    ("MaxPooling2D", (None, 6, 8, 256), 0),
    ("Conv2D", (None, 6, 8, 512), 1_180_160),
    ("Conv2D", (None, 6, 8, 512), 2_359_808),
    ("Dropout", (None, 6, 8, 512), 0),
    ("Conv2DTranspose", (None, 12, 16, 256), 1_179_904),
    ("Concatenate", (None, 12, 16, 512), 0),
    ("Conv2D", (None, 12, 16, 256), 1_179_904),
    ("Conv2D", (None, 12, 16, 256), 590_080),
    ("Conv2DTranspose", (None, 24, 32, 128), 295_040),
    ("Concatenate", (None, 24, 32, 256), 0),
    ("Conv2D", (None, 24, 32, 128), 295_040),
    ("Conv2D", (None, 24, 32, 128), 147_584),
    ("Conv2DTranspose", (None, 48, 64, 64), 73_792),
    ("Concatenate", (None, 48, 64, 128), 0),
    ("Conv2D", (None, 48, 64, 64), 73_792),
    ("Conv2D", (None, 48, 64, 64), 36_928),
    ("Conv2DTranspose", (None, 96, 128, 32), 18_464),
    ("Concatenate", (None, 96, 128, 64), 0),
    ("Conv2D", (None, 96, 128, 32), 18_464),
    ("Conv2D", (None, 96, 128, 32), 9_248),
    ("Conv2D", (None, 96, 128, 32), 9_248),
    ("Conv2D", (None, 96, 128, 23), 759),
]


@pytest.fixture(scope="module")
def unet():
    """The namespace of the solution notebook's imports and functions."""
    return nbcode.definitions(
        NOTEBOOK, ("build_unet", "unet_output_size", "unet_margin", "nearest_input_sizes")
    )


@pytest.mark.parametrize("source", list(TABLE))
def test_builder_reproduces_the_table(unet, source):
    options, output_shape, params = TABLE[source]
    model = unet["build_unet"](**options)
    assert tuple(model.output.shape) == output_shape
    assert tuple(model.input.shape) == (None, *options["input_shape"])
    assert model.count_params() == params, f"{source}: {model.count_params():,} != {params:,}"


def test_carla_model_matches_its_published_summary_layer_by_layer(unet):
    from unet_course import checks

    model = unet["build_unet"](**TABLE["CARLA U-Net"][0])
    checks.compare_layers(model, [checks.spec(*row) for row in CARLA_SUMMARY], "CARLA U-Net")
    dropout = [layer.rate for layer in model.layers if type(layer).__name__ == "Dropout"]
    assert dropout == [0.3, 0.3]
    head = model.layers[-1].get_config()
    assert tuple(head["kernel_size"]) == (1, 1) and head["activation"] == "linear"


def test_paper_model_crops_its_skips_as_the_paper_says(unet):
    model = unet["build_unet"](**TABLE["Ronneberger et al. 2015"][0])
    crops = [layer for layer in model.layers if type(layer).__name__ == "Cropping2D"]
    assert [c.get_config()["cropping"] for c in crops] == [
        ((m, m), (m, m)) for m in (4, 16, 40, 88)
    ]
    assert [tuple(c.output.shape[1:3]) for c in crops] == [
        (56, 56),
        (104, 104),
        (200, 200),
        (392, 392),
    ]
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Conv2DTranspose") == 4
    # the paper: "In total the network has 23 convolutional layers" (up-convolutions included)
    assert kinds.count("Conv2D") + kinds.count("Conv2DTranspose") == 23


def test_tiny_unet_head_is_a_sigmoid(unet):
    model = unet["build_unet"](**TABLE["Tiny U-Net"][0])
    head = model.layers[-1]
    assert head.get_config()["activation"] == "sigmoid" and head.count_params() == 33
    assert len(model.layers) == 32


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((572, 5), 388),
        ((100, 3), 60),
        ((256, 5, "same"), 256),
        ((96, 5, "same"), 96),
        ((128, 5, "same"), 128),
        ((140, 3), 100),
    ],
)
def test_output_size(unet, args, expected):
    assert unet["unet_output_size"](*args) == expected


@pytest.mark.parametrize(
    "args",
    [(570, 5), (100, 5, "same"), (20, 3), (40, 3), (572, 5, "full"), (572, 0), (0, 3)],
    ids=[
        "odd-before-pooling",
        "same-not-divisible",
        "too-small-down",
        "too-small-up",
        "bad-padding",
        "depth-0",
        "size-0",
    ],
)
def test_output_size_refuses_sizes_that_cannot_work(unet, args):
    with pytest.raises(ValueError):
        unet["unet_output_size"](*args)


def test_nearest_input_sizes(unet):
    nearest = unet["nearest_input_sizes"]
    assert nearest(570, 5) == (556, 572)
    assert nearest(572, 5) == (572, 572)
    assert nearest(256, 5) == (252, 268)
    assert nearest(30, 3) == (None, 44)
    assert nearest(100, 5, "same") == (96, 112)


@pytest.mark.parametrize(
    "options",
    [
        dict(input_shape=(100, 100, 3), num_classes=1, base_filters=8, depth=5, padding="same"),
        dict(input_shape=(572, 570, 1), num_classes=2, base_filters=4),
        dict(input_shape=(20, 20, 3), num_classes=3, base_filters=4, depth=3),
    ],
    ids=["same-not-divisible", "valid-odd-width", "valid-too-small"],
)
def test_builder_refuses_sizes_that_cannot_work(unet, options):
    with pytest.raises(ValueError):
        unet["build_unet"](**options)


@pytest.mark.parametrize(("depth", "margin"), [(1, 2), (3, 20), (5, 92), (6, 188)])
def test_margin_is_what_the_output_size_loses(unet, depth, margin):
    assert unet["unet_margin"](depth) == margin
    assert unet["unet_margin"](depth, "same") == 0
    below, above = unet["nearest_input_sizes"](300, depth)
    for size in {below, above} - {None}:
        assert size - unet["unet_output_size"](size, depth) == 2 * margin


def test_builder_makes_the_small_logits_unets_of_the_later_notebooks(unet):
    """05-07 get build_unet as given code and train small same-padded U-Nets with logits."""
    model = unet["build_unet"]((64, 64, 3), 3, base_filters=16, depth=4, padding="same")
    assert tuple(model.output.shape) == (None, 64, 64, 3)
    assert model.layers[-1].get_config()["activation"] == "linear"
    assert model.count_params() == 482_067  # what 05 trained with its own builder before
    kinds = [type(layer).__name__ for layer in model.layers]
    assert "Cropping2D" not in kinds and "Dropout" not in kinds
