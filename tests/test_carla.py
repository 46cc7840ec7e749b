"""The CARLA-layout loader and its stand-in."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from unet_course import carla, standin
from unet_course.errors import DataError

N = 6


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ("NBGRADER_EXECUTION", "CARLA_DIR"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> Path:
    return standin.make_carla_standin(tmp_path_factory.mktemp("carla") / "raw", n=N, seed=3)


@pytest.fixture
def broken(scenes, tmp_path) -> Path:
    return Path(shutil.copytree(scenes, tmp_path / "broken"))


def test_loader_shapes_dtypes_and_ids(scenes):
    ds = carla.load_carla_folder(scenes)
    assert ds.element_spec == (
        tf.TensorSpec((None, None, 3), tf.uint8),
        tf.TensorSpec((None, None, 1), tf.uint8),
    )
    names = sorted(p.name for p in (scenes / "CameraRGB").glob("*.png"))
    pairs = list(ds)
    assert len(pairs) == N
    for (image, mask), name in zip(pairs, names, strict=True):
        assert image.shape == (192, 256, 3) and mask.shape == (192, 256, 1)
        stored = np.asarray(Image.open(scenes / "CameraMask" / name))
        np.testing.assert_array_equal(mask.numpy()[..., 0], stored[..., 0])
        np.testing.assert_array_equal(
            image.numpy(), np.asarray(Image.open(scenes / "CameraRGB" / name))
        )
        assert int(tf.reduce_max(mask)) < carla.NUM_CLASSES
    assert carla.NUM_CLASSES == 23


def test_reduce_max_recovers_the_id_from_any_channel(broken):
    name = sorted(p.name for p in (broken / "CameraMask").glob("*.png"))[0]
    path = broken / "CameraMask" / name
    ids = np.asarray(Image.open(path))[..., 0]
    moved = np.zeros(ids.shape + (3,), np.uint8)
    moved[..., 2] = ids  # the id in the blue channel instead
    Image.fromarray(moved).save(path)
    _, mask = next(iter(carla.load_carla_folder(broken)))
    np.testing.assert_array_equal(mask.numpy()[..., 0], ids)


def test_load_carla_prints_the_source(scenes, capsys):
    carla.load_carla(source="folder", folder=scenes)
    out = capsys.readouterr().out
    assert "SYNTHETIC STAND-IN" in out and f"{N} image/mask pairs" in out, out
    assert out.count("\n") == 1


def test_unmarked_folder_is_not_called_a_standin(broken, capsys):
    (broken / "STANDIN.txt").unlink()
    carla.load_carla(folder=broken)  # auto with a folder -> folder
    out = capsys.readouterr().out
    assert "SYNTHETIC" not in out and str(broken) in out, out


def test_auto_rule(monkeypatch, capsys):
    assert carla.resolve_carla_source("auto") == ("standin", "auto: no CARLA folder given")
    assert carla.resolve_carla_source("auto", "x")[0] == "folder"
    monkeypatch.setenv("CARLA_DIR", "x")
    assert carla.resolve_carla_source("auto")[0] == "folder"
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert carla.resolve_carla_source("auto", "x")[0] == "standin"
    with pytest.raises(ValueError, match="source must be"):
        carla.resolve_carla_source("tfds")
    ds = carla.load_carla()  # the default stand-in, generated on first use
    assert "SYNTHETIC STAND-IN" in capsys.readouterr().out
    assert int(ds.cardinality()) == 60


def _expect(root: Path, *fragments: str, **kwargs) -> None:
    with pytest.raises(DataError) as caught:
        carla.load_carla_folder(root, **kwargs)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in: {message}"


def test_missing_folders(tmp_path, broken):
    _expect(tmp_path / "nowhere", "nowhere", "does not exist")
    shutil.rmtree(broken / "CameraMask")
    _expect(broken, "CameraMask", "is missing")
    with pytest.raises(DataError, match="CARLA_DIR"):
        carla.load_carla(source="folder")


def test_unpaired_files(broken):
    shutil.copy(broken / "CameraRGB" / "000000.png", broken / "CameraRGB" / "extra_1.png")
    _expect(broken, "extra_1.png", "CameraMask", "no partner")


def test_size_mismatch(broken):
    path = broken / "CameraMask" / "000002.png"
    with Image.open(path) as im:
        small = im.resize((128, 96), Image.Resampling.NEAREST)
    small.save(path)
    _expect(broken, "000002.png", "128x96", "size of its image")


def test_class_ids_out_of_range(broken):
    path = broken / "CameraMask" / "000001.png"
    mask = np.asarray(Image.open(path)).copy()
    mask[0, 0, 0] = 23
    Image.fromarray(mask).save(path)
    _expect(broken, "000001.png", "class id 23", "23 classes")
    _expect(broken, "000000.png", "only 5 classes", num_classes=5)


def test_corrupt_image(broken):
    (broken / "CameraRGB" / "000003.png").write_bytes(b"\x89PNG broken")
    _expect(broken, "000003.png", "corrupt")
