"""Oxford-IIIT Pet loaders: the stand-in tfds copy, the folder loader and source choice."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from unet_course import pets, standin
from unet_course.errors import DataError

N_TRAIN, N_TEST = 16, 8
SOURCE_VARS = (
    "NBGRADER_EXECUTION",
    "UNET_COURSE_SOURCE",
    "OXFORD_PETS_DIR",
    "COLAB_RELEASE_TAG",
)
EXPECTED_SPEC = {
    "image": tf.TensorSpec((None, None, 3), tf.uint8),
    "segmentation_mask": tf.TensorSpec((None, None, 1), tf.uint8),
    "label": tf.TensorSpec((), tf.int64),
    "species": tf.TensorSpec((), tf.int64),
    "file_name": tf.TensorSpec((), tf.string),
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in SOURCE_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access is blocked in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return standin.make_oxford_standin(tmp_path_factory.mktemp("pets") / "raw", N_TRAIN, N_TEST, 1)


@pytest.fixture(scope="module")
def tfds_dir(raw, tmp_path_factory) -> Path:
    return pets.prepare_standin_tfds(tmp_path_factory.mktemp("pets_tfds"), raw=raw)


@pytest.fixture
def broken(raw, tmp_path) -> Path:
    """A private copy of the small stand-in to damage."""
    return Path(shutil.copytree(raw, tmp_path / "broken"))


def _names(ds) -> list[str]:
    return [ex["file_name"].numpy().decode() for ex in ds]


# --------------------------------------------------------------------------- tfds copy


def test_breed_list_matches_the_tfds_builder():
    from tensorflow_datasets.datasets.oxford_iiit_pet import oxford_iiit_pet_dataset_builder as b

    assert list(standin.OXFORD_LABEL_CLASSES) == list(b._LABEL_CLASSES)


def test_unchanged_tfds_load_reads_the_standin_offline(tfds_dir, no_network):
    train = tfds.load("oxford_iiit_pet", split="train", data_dir=os.fspath(tfds_dir))
    test = tfds.load("oxford_iiit_pet", split="test", data_dir=os.fspath(tfds_dir))
    assert (int(train.cardinality()), int(test.cardinality())) == (N_TRAIN, N_TEST)
    spec = dict(train.element_spec)
    assert spec.pop("head_bbox") == tf.TensorSpec((4,), tf.float32)
    assert spec == EXPECTED_SPEC
    builder = tfds.builder("oxford_iiit_pet", data_dir=os.fspath(tfds_dir))
    assert str(builder.info.version) == "4.0.0"
    label_names = builder.info.features["label"]
    for ex in train:
        name = ex["file_name"].numpy().decode()
        breed = name.rsplit("_", 1)[0]
        assert label_names.int2str(int(ex["label"])) == breed, name
        assert int(ex["species"]) == standin.species_of(breed) - 1, name
        assert ex["image"].shape[:2] == ex["segmentation_mask"].shape[:2], name
        assert set(np.unique(ex["segmentation_mask"]).tolist()) == {1, 2, 3}, name
        assert np.any(ex["head_bbox"].numpy() > 0), f"{name}: the builder parsed no head box"
    for ex in test.take(3):
        assert not np.any(ex["head_bbox"].numpy()), "test images have no head box"


def test_prepare_is_cached_and_refuses_foreign_copies(raw, tfds_dir, tmp_path):
    shard = next((tfds_dir / "oxford_iiit_pet" / "4.0.0").glob("*train.tfrecord*"))
    before = shard.stat().st_mtime_ns
    assert pets.prepare_standin_tfds(tfds_dir, raw=raw) == tfds_dir
    assert shard.stat().st_mtime_ns == before, "an up-to-date copy must not be rebuilt"

    foreign = tmp_path / "real" / "oxford_iiit_pet" / "4.0.0"
    foreign.mkdir(parents=True)
    (foreign / "dataset_info.json").write_text("{}")
    with pytest.raises(DataError, match="not the stand-in"):
        pets.prepare_standin_tfds(tmp_path / "real", raw=raw)
    assert (foreign / "dataset_info.json").read_text() == "{}"


def test_prepare_rebuilds_an_outdated_copy(raw, tmp_path):
    data_dir = pets.prepare_standin_tfds(tmp_path / "tfds", raw=raw)
    stamp = data_dir / "oxford_iiit_pet" / "4.0.0" / "STANDIN.txt"
    stamp.write_text("generator version 0\n")
    pets.prepare_standin_tfds(data_dir, raw=raw)
    assert stamp.read_text() == (raw / "STANDIN.txt").read_text()
    ds = tfds.load("oxford_iiit_pet", split="test", data_dir=os.fspath(data_dir))
    assert int(ds.cardinality()) == N_TEST
    assert sorted(p.name for p in data_dir.iterdir()) == ["oxford_iiit_pet"], "leftovers"


# --------------------------------------------------------------------------- load_pets


def test_standin_and_folder_sources_agree(capsys):
    ds = pets.load_pets("train", source="standin")
    line = capsys.readouterr().out
    assert "SYNTHETIC STAND-IN" in line and "NOT the real Oxford-IIIT Pet" in line, line
    assert line.count("\n") == 1, "one line naming the source"
    info = pets.last_source()
    assert (info.source, info.synthetic, info.num_examples) == ("standin", True, 200)

    folder = pets.load_pets("train", source="folder", folder=standin.ensure_oxford_standin())
    assert "SYNTHETIC STAND-IN" in capsys.readouterr().out, "a stand-in folder is named as such"
    assert ds.element_spec == folder.element_spec == EXPECTED_SPEC
    first = next(iter(ds))
    name = first["file_name"].numpy()
    same = next(iter(folder.filter(lambda ex: tf.equal(ex["file_name"], name))))
    np.testing.assert_array_equal(first["segmentation_mask"], same["segmentation_mask"])
    assert first["image"].shape == same["image"].shape
    diff = np.abs(first["image"].numpy().astype(int) - same["image"].numpy().astype(int))
    assert diff.mean() < 2.0, "images differ by more than a JPEG round trip"
    assert int(first["label"]) == int(same["label"])
    assert int(first["species"]) == int(same["species"])


def test_auto_uses_the_standin_under_nbgrader(monkeypatch, capsys):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setenv("OXFORD_PETS_DIR", "/nonexistent")  # must be ignored while grading
    ds = pets.load_pets("test[:10]")
    out = capsys.readouterr().out
    assert "SYNTHETIC STAND-IN" in out and "NBGRADER_EXECUTION" in out, out
    assert pets.last_source().source == "standin"
    assert int(ds.cardinality()) == 10


@pytest.mark.parametrize(
    "env, folder, expected",
    [
        ({}, None, "standin"),
        ({"NBGRADER_EXECUTION": "validate", "UNET_COURSE_SOURCE": "tfds"}, "x", "standin"),
        ({"UNET_COURSE_SOURCE": "tfds"}, "x", "tfds"),
        ({}, "x", "folder"),
        ({"COLAB_RELEASE_TAG": "release-colab"}, None, "tfds"),
        ({"COLAB_RELEASE_TAG": "release-colab", "OXFORD_PETS_DIR": "x"}, None, "tfds"),
        ({"OXFORD_PETS_DIR": "x"}, None, "folder"),
    ],
)
def test_auto_rule(monkeypatch, env, folder, expected):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert pets.resolve_source("auto", folder)[0] == expected
    assert pets.resolve_source("standin", folder) == ("standin", "")
    with pytest.raises(ValueError, match="source must be one of"):
        pets.resolve_source("kaggle")


def test_tfds_failure_says_what_to_do(monkeypatch, capsys):
    def offline(*args, **kwargs):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(tfds, "load", offline)
    with pytest.raises(ConnectionError) as caught:
        pets.load_pets(source="tfds")
    told = " ".join(getattr(caught.value, "__notes__", [])) + capsys.readouterr().out
    assert "source='standin'" in told and "source='folder'" in told, told


def test_tfds_source_on_a_standin_copy_is_labelled_synthetic(tfds_dir, capsys):
    ds = pets.load_pets("test", source="tfds", data_dir=tfds_dir)
    assert "SYNTHETIC STAND-IN" in capsys.readouterr().out
    assert ds.element_spec == EXPECTED_SPEC
    assert int(ds.cardinality()) == N_TEST


@pytest.mark.parametrize("split", ["train[:33%]", "train[25%:75%]", "test[-3:]", "test[2:5]"])
def test_folder_slices_match_tfds(raw, tfds_dir, split):
    from_tfds = tfds.load("oxford_iiit_pet", split=split, data_dir=os.fspath(tfds_dir))
    folder = pets.load_pets(split, source="folder", folder=raw, verbose=False)
    assert len(_names(folder)) == int(from_tfds.cardinality()), split


def test_folder_order_labels_and_slices(raw):
    lines = (raw / "annotations" / "trainval.txt").read_text().split("\n")[:-1]
    ds = pets.load_pets_folder(raw, "train")
    assert ds.element_spec == EXPECTED_SPEC
    assert _names(ds) == [f"{ln.split()[0]}.jpg" for ln in lines], "list-file order"
    first = next(iter(ds))
    name, class_id, species, _ = lines[0].split()
    assert (int(first["label"]), int(first["species"])) == (int(class_id) - 1, int(species) - 1)
    assert _names(pets.load_pets_folder(raw, "train[:25%]")) == _names(ds)[:4]
    assert _names(pets.load_pets_folder(raw, "train[-2:]")) == _names(ds)[-2:]
    assert len(_names(pets.load_pets_folder(raw, "train+test"))) == N_TRAIN + N_TEST
    with pytest.raises(ValueError, match="unsupported split"):
        pets.load_pets_folder(raw, "validation")


def test_png_inside_jpg_is_read(broken):
    target = broken / "images" / "Abyssinian_1.jpg"
    pixels = np.asarray(Image.open(target).convert("RGB"))
    Image.fromarray(pixels).save(target, format="PNG")
    ds = pets.load_pets_folder(broken, "train+test")
    ex = next(iter(ds.filter(lambda e: tf.equal(e["file_name"], "Abyssinian_1.jpg"))))
    np.testing.assert_array_equal(ex["image"].numpy(), pixels)


# --------------------------------------------------------------------------- bad input


def _first(root: Path, split: str = "trainval") -> str:
    return (root / "annotations" / f"{split}.txt").read_text().split()[0]


def _expect(root: Path, split: str, *fragments: str) -> None:
    with pytest.raises(DataError) as caught:
        pets.load_pets_folder(root, split)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in: {message}"


def test_missing_folder(tmp_path):
    _expect(tmp_path / "nowhere", "train", "nowhere", "does not exist")
    with pytest.raises(DataError, match="OXFORD_PETS_DIR"):
        pets.load_pets(source="folder")


def test_missing_list_file(broken):
    (broken / "annotations" / "test.txt").unlink()
    _expect(broken, "test", "test.txt", "is missing")


def test_missing_trimap_and_image(broken):
    name = _first(broken)
    (broken / "annotations" / "trimaps" / f"{name}.png").unlink()
    _expect(broken, "train", f"{name}.png", "missing", "trainval.txt")
    assert pets.load_pets_folder(broken, "train", check=False) is not None, "check=False is lazy"
    other = _first(broken, "test")
    (broken / "images" / f"{other}.jpg").unlink()
    _expect(broken, "test", f"{other}.jpg", "missing")


@pytest.mark.parametrize("value", [0, 4, 255])
def test_trimap_values_outside_1_2_3(broken, value):
    name = _first(broken)
    path = broken / "annotations" / "trimaps" / f"{name}.png"
    trimap = np.asarray(Image.open(path)).copy()
    trimap[0, 0] = value
    Image.fromarray(trimap).save(path)
    _expect(broken, "train", f"{name}.png", "must be 1 (pet), 2 (background) or 3", f"[{value}]")


def test_trimap_of_another_size(broken):
    name = _first(broken, "test")
    path = broken / "annotations" / "trimaps" / f"{name}.png"
    with Image.open(path) as im:
        small = im.resize((im.width // 2, im.height // 2), Image.Resampling.NEAREST)
    small.save(path)
    _expect(broken, "test", f"{name}.png", "pixels", "size of its image")


def test_trimap_file_formats(broken):
    name = _first(broken)
    path = broken / "annotations" / "trimaps" / f"{name}.png"
    grey = np.asarray(Image.open(path))
    Image.fromarray(grey).convert("RGB").save(path)  # grey RGB decodes to the same values
    ex = next(iter(pets.load_pets_folder(broken, "train")))
    np.testing.assert_array_equal(ex["segmentation_mask"].numpy()[..., 0], grey)
    colour = np.stack([grey, grey, np.full_like(grey, 2)], axis=-1)
    Image.fromarray(colour).save(path)
    _expect(broken, "train", f"{name}.png", "8-bit greyscale", "'RGB'")
    Image.fromarray(grey.astype(np.uint16)).save(path)  # 16-bit: TF would rescale the values
    _expect(broken, "train", f"{name}.png", "8-bit greyscale")


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_image(broken, damage):
    name = _first(broken)
    path = broken / "images" / f"{name}.jpg"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"not a jpeg" * 50)
    _expect(broken, "train", f"{name}.jpg", "corrupt")


@pytest.mark.parametrize(
    "line, problem",
    [
        ("Abyssinian_1 1 1", "4 fields"),
        ("Abyssinian_1 one 1 1", "4 fields"),
        ("Abyssinian_1 38 1 1", "CLASS-ID"),
        ("Abyssinian_1 1 3 1", "SPECIES"),
    ],
)
def test_malformed_list_line(broken, line, problem):
    listing = broken / "annotations" / "trainval.txt"
    lines = listing.read_text().splitlines()
    lines[2] = line
    listing.write_text("\n".join(lines) + "\n")
    _expect(broken, "train", "trainval.txt", "line 3", problem, line)
