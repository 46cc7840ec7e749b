"""The offline stand-in generators (no TensorFlow needed)."""

from __future__ import annotations

import re
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unet_course import standin

N_TRAINVAL, N_TEST = 40, 20
LINE = re.compile(r"^([A-Za-z_]+)_(\d+) (\d+) ([12]) (\d+)$")


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _trimaps(root: Path) -> dict[str, np.ndarray]:
    return {
        p.stem: np.asarray(Image.open(p))
        for p in sorted((root / "annotations" / "trimaps").glob("*.png"))
    }


@pytest.fixture(scope="module")
def oxford(tmp_path_factory) -> Path:
    return standin.make_oxford_standin(
        tmp_path_factory.mktemp("oxford") / "raw", N_TRAINVAL, N_TEST, seed=0
    )


@pytest.fixture(scope="module")
def carla(tmp_path_factory) -> Path:
    return standin.make_carla_standin(tmp_path_factory.mktemp("carla") / "raw", n=12, seed=0)


# --------------------------------------------------------------------------- Oxford


def test_same_arguments_give_byte_identical_files(tmp_path):
    a = _files(standin.make_oxford_standin(tmp_path / "a", 8, 4, seed=5))
    b = _files(standin.make_oxford_standin(tmp_path / "b", 8, 4, seed=5))
    assert sorted(a) == sorted(b), "the two runs wrote different file sets"
    differing = [name for name in a if a[name] != b[name]]
    assert not differing, f"files differ between identical runs: {differing[:5]}"
    c = _files(standin.make_oxford_standin(tmp_path / "c", 8, 4, seed=6))
    assert a["images/Abyssinian_1.jpg"] != c["images/Abyssinian_1.jpg"], "seed is ignored"


def test_raw_oxford_layout(oxford):
    images = sorted(p.stem for p in (oxford / "images").glob("*.jpg"))
    trimaps = sorted(p.stem for p in (oxford / "annotations" / "trimaps").glob("*.png"))
    xmls = sorted(p.stem for p in (oxford / "annotations" / "xmls").glob("*.xml"))
    train = [ln.split()[0] for ln in (oxford / "annotations/trainval.txt").read_text().splitlines()]
    test = [ln.split()[0] for ln in (oxford / "annotations/test.txt").read_text().splitlines()]
    assert len(images) == N_TRAINVAL + N_TEST
    assert trimaps == images, "every image needs a trimap of the same name"
    assert (len(train), len(test)) == (N_TRAINVAL, N_TEST)
    assert sorted(train + test) == images, "the list files must list every image once"
    assert xmls == sorted(train), "head boxes exist for trainval images only, as in the real data"
    species = {standin.species_of(n.rsplit("_", 1)[0]) for n in images}
    assert species == {1, 2}, "the stand-in must contain cats and dogs"
    marker = (oxford / "STANDIN.txt").read_text()
    assert "NOT the real Oxford-IIIT Pet dataset" in marker
    assert f"version {standin.GENERATOR_VERSION}" in marker


def test_list_lines_use_the_real_ids(oxford):
    known = {  # from the real annotations/list.txt
        "Abyssinian": (1, 1, 1),
        "Bengal": (6, 1, 2),
        "Persian": (24, 1, 8),
        "Russian_Blue": (28, 1, 10),
        "Siamese": (33, 1, 11),
        "beagle": (5, 2, 4),
        "boxer": (9, 2, 5),
        "pug": (26, 2, 18),
        "samoyed": (30, 2, 20),
        "shiba_inu": (32, 2, 22),
    }
    assert set(standin.STANDIN_BREEDS) == set(known)
    ann = oxford / "annotations"
    listed = (ann / "list.txt").read_text().splitlines()
    header = [ln for ln in listed if ln.startswith("#")]
    body = [ln for ln in listed if not ln.startswith("#")]
    assert header and listed[: len(header)] == header, "list.txt starts with '#' header lines"
    both = (ann / "trainval.txt").read_text().splitlines() + (
        ann / "test.txt"
    ).read_text().splitlines()
    assert sorted(body) == sorted(both)
    for line in body:
        match = LINE.match(line)
        assert match, f"bad list line {line!r}"
        breed, _, class_id, species, breed_id = match.groups()
        assert (int(class_id), int(species), int(breed_id)) == known[breed], line


def test_images_and_trimaps(oxford):
    sizes = set()
    for name, trimap in _trimaps(oxford).items():
        with Image.open(oxford / "images" / f"{name}.jpg") as im:
            assert (im.format, im.mode) == ("JPEG", "RGB"), name
            size = im.size
        with Image.open(oxford / "annotations" / "trimaps" / f"{name}.png") as tm:
            assert tm.mode == "L", f"{name}: trimaps are 8-bit single-channel PNGs"
        assert trimap.shape == (size[1], size[0]), f"{name}: trimap and image sizes differ"
        assert set(np.unique(trimap).tolist()) == {1, 2, 3}, f"{name}: values must be 1, 2 and 3"
        assert 150 <= min(size) and max(size) <= 320, size
        sizes.add(size)
    assert len(sizes) > (N_TRAINVAL + N_TEST) // 2, "image sizes should vary"
    assert any(w != h for w, h in sizes)


def _adjacent(t: np.ndarray, a: int, b: int) -> bool:
    """True when some pixel of value ``a`` has a 4-neighbour of value ``b``."""
    across = ((t[:, 1:] == a) & (t[:, :-1] == b)) | ((t[:, :-1] == a) & (t[:, 1:] == b))
    down = ((t[1:, :] == a) & (t[:-1, :] == b)) | ((t[:-1, :] == a) & (t[1:, :] == b))
    return bool(across.any() or down.any())


def test_border_band_separates_pet_from_background(oxford):
    for name, t in _trimaps(oxford).items():
        assert not _adjacent(t, 1, 2), f"{name}: pet pixels touch background pixels"
        assert _adjacent(t, 3, 1), f"{name}: the border band must touch the pet"
        assert _adjacent(t, 3, 2), f"{name}: the border band must touch the background"


def test_class_frequencies_follow_the_real_order(oxford):
    counts = sum(np.bincount(t.ravel(), minlength=4) for t in _trimaps(oxford).values())
    pet, background, border = counts[1:] / counts[1:].sum()
    assert background > pet > border, (pet, background, border)
    assert 0.50 <= background <= 0.68, background
    assert 0.24 <= pet <= 0.40, pet
    assert 0.05 <= border <= 0.12, border


def test_head_boxes_parse_and_cover_the_head(oxford):
    for xml in sorted((oxford / "annotations" / "xmls").glob("*.xml")):
        root = ET.parse(xml).getroot()
        width = int(root.find("size/width").text)
        height = int(root.find("size/height").text)
        with Image.open(oxford / "images" / f"{xml.stem}.jpg") as im:
            assert im.size == (width, height), xml.name
        box = [int(root.find(f"object/bndbox/{k}").text) for k in ("xmin", "ymin", "xmax", "ymax")]
        xmin, ymin, xmax, ymax = box
        assert 1 <= xmin < xmax <= width and 1 <= ymin < ymax <= height, (xml.name, box)
        trimap = np.asarray(Image.open(oxford / "annotations" / "trimaps" / f"{xml.stem}.png"))
        inside = trimap[ymin - 1 : ymax, xmin - 1 : xmax]
        assert np.mean(inside != 2) > 0.5, f"{xml.name}: the head box is mostly background"


def test_not_separable_by_a_colour_threshold(oxford):
    pixels, is_pet = [], []
    for name, trimap in list(_trimaps(oxford).items())[::2]:
        rgb = np.asarray(Image.open(oxford / "images" / f"{name}.jpg"), np.float32).reshape(-1, 3)
        keep = trimap.ravel() != 3
        pixels.append(rgb[keep])
        is_pet.append(trimap.ravel()[keep] == 1)
    x, y = np.concatenate(pixels), np.concatenate(is_pet)
    features = {"red": x[:, 0], "green": x[:, 1], "blue": x[:, 2], "grey": x.mean(1)}
    for feature_name, f in features.items():
        best = max(
            max(acc, 1 - acc)
            for th in np.percentile(f, np.arange(2, 100, 2))
            for acc in [np.mean((f > th) == y)]
        )
        assert best < 0.85, f"a threshold on {feature_name} alone separates pet from background"
    assert np.std(x[~y], axis=0).min() > 20, "backgrounds should be textured, not flat"


# --------------------------------------------------------------------------- CARLA


def test_carla_layout_and_masks(carla):
    rgb = sorted(p.name for p in (carla / "CameraRGB").glob("*.png"))
    masks = sorted(p.name for p in (carla / "CameraMask").glob("*.png"))
    assert len(rgb) == 12 and rgb == masks
    ids: set[int] = set()
    for name in rgb:
        with Image.open(carla / "CameraRGB" / name) as im:
            assert (im.mode, im.size) == ("RGB", (256, 192))
        mask = np.asarray(Image.open(carla / "CameraMask" / name))
        assert mask.shape == (192, 256, 3), "masks are RGB PNGs"
        assert not mask[..., 1:].any(), "the class id lives in the red channel only"
        assert int(mask.max(axis=-1).max()) < len(standin.CARLA_CLASSES)
        ids |= set(np.unique(mask[..., 0]).tolist())
    assert len(ids) >= 8, f"too few classes across the set: {sorted(ids)}"
    assert {7, 8, 13} <= ids, "road, sidewalk and sky are expected in street scenes"
    assert "NOT the real CARLA" in (carla / "STANDIN.txt").read_text()


def test_carla_is_deterministic(tmp_path, carla):
    again = _files(standin.make_carla_standin(tmp_path / "again", n=12, seed=0))
    assert again == _files(carla)
    assert len(standin.CARLA_CLASSES) == 23


# --------------------------------------------------------------------------- locations


def test_standin_root(monkeypatch, tmp_path):
    monkeypatch.setenv("UNET_COURSE_DATA", str(tmp_path / "x"))
    assert standin.standin_root() == tmp_path / "x"
    monkeypatch.delenv("UNET_COURSE_DATA")
    repo = Path(standin.__file__).resolve().parents[1]
    assert standin.standin_root() == repo / "data" / "standin"
    monkeypatch.setattr(standin, "__file__", str(tmp_path / "site" / "unet_course" / "standin.py"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert standin.standin_root() == tmp_path / "home" / ".cache" / "unet-course" / "standin"


def test_ensure_generates_once_and_regenerates_new_versions(tmp_path, monkeypatch):
    root = standin.ensure_carla_standin(tmp_path / "carla", n=5)
    first = _files(root)
    assert len(first) == 11, "5 images, 5 masks and the marker"
    calls = []
    monkeypatch.setattr(standin, "make_carla_standin", lambda *a, **k: calls.append(a))
    assert standin.ensure_carla_standin(root, n=5) == root
    assert not calls, "an up-to-date stand-in must not be regenerated"
    monkeypatch.undo()

    marker = root / "STANDIN.txt"
    marker.write_text(marker.read_text().replace(f"version {standin.GENERATOR_VERSION}", "v0"))
    (root / "CameraRGB" / "stale.png").write_bytes(b"old")
    standin.ensure_carla_standin(root, n=5)
    assert _files(root) == first, "an outdated stand-in must be replaced completely"
    assert [p.name for p in tmp_path.iterdir()] == ["carla"], "temporary folders left behind"


def test_ensure_is_safe_when_called_concurrently(tmp_path):
    results, errors = [], []

    def run():
        try:
            results.append(standin.ensure_carla_standin(tmp_path / "carla", n=6))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert results == [tmp_path / "carla"] * 2
    assert len(list((tmp_path / "carla" / "CameraMask").glob("*.png"))) == 6
    assert [p.name for p in tmp_path.iterdir()] == ["carla"], "temporary folders left behind"


def test_ensure_oxford_matches_make(tmp_path):
    root = standin.ensure_oxford_standin(tmp_path / "ensured", n_trainval=6, n_test=3, seed=2)
    made = standin.make_oxford_standin(tmp_path / "made", 6, 3, seed=2)
    assert _files(root) == _files(made)
