"""Deterministic offline stand-in data in the real datasets' file formats.

The build machines, CI and the autograder have no internet, so the course ships
a generator for small synthetic data sets instead of the real ones:

* :func:`make_oxford_standin` writes the raw Oxford-IIIT Pet layout
  (``images/*.jpg``, ``annotations/trimaps/*.png``, ``annotations/xmls/*.xml``,
  ``annotations/{list,trainval,test}.txt``) with pet-like shapes on textured
  backgrounds and trimaps using the real values 1 = pet, 2 = background,
  3 = not classified (a band along the outline).
* :func:`make_carla_standin` writes the CARLA layout (``CameraRGB/*.png``,
  ``CameraMask/*.png`` with the class id in the red channel) with street-like
  scenes.

Both write a ``STANDIN.txt`` marker saying that the data is synthetic. The
``ensure_*`` functions generate the data once into :func:`standin_root` and
regenerate it only when the generator version changes.

This module deliberately does not import TensorFlow.
"""

from __future__ import annotations

import math
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

__all__ = [
    "CARLA_CLASSES",
    "GENERATOR_VERSION",
    "OXFORD_LABEL_CLASSES",
    "STANDIN_BREEDS",
    "breed_id_of",
    "ensure_carla_standin",
    "ensure_oxford_standin",
    "make_carla_standin",
    "make_oxford_standin",
    "species_of",
    "standin_root",
]

#: Bump whenever the generated files change; ``ensure_*`` then regenerates.
GENERATOR_VERSION = 1

#: The 37 Oxford-IIIT Pet breeds in the dataset's class-id order (CLASS-ID 1..37).
#: Cat breeds are Capitalised, dog breeds lowercase, as in the real file names.
OXFORD_LABEL_CLASSES: tuple[str, ...] = (
    "Abyssinian", "american_bulldog", "american_pit_bull_terrier", "basset_hound", "beagle",
    "Bengal", "Birman", "Bombay", "boxer", "British_Shorthair", "chihuahua", "Egyptian_Mau",
    "english_cocker_spaniel", "english_setter", "german_shorthaired", "great_pyrenees",
    "havanese", "japanese_chin", "keeshond", "leonberger", "Maine_Coon", "miniature_pinscher",
    "newfoundland", "Persian", "pomeranian", "pug", "Ragdoll", "Russian_Blue", "saint_bernard",
    "samoyed", "scottish_terrier", "shiba_inu", "Siamese", "Sphynx",
    "staffordshire_bull_terrier", "wheaten_terrier", "yorkshire_terrier",
)  # fmt: skip

#: The breeds the stand-in uses: five cats and five dogs.
STANDIN_BREEDS: tuple[str, ...] = (
    "Abyssinian", "Bengal", "Persian", "Siamese", "Russian_Blue",
    "beagle", "boxer", "pug", "samoyed", "shiba_inu",
)  # fmt: skip

#: The 23 semantic classes of the CARLA simulator (ids 0..22) used by the CARLA data set.
CARLA_CLASSES: tuple[str, ...] = (
    "unlabeled", "building", "fence", "other", "pedestrian", "pole", "road_line", "road",
    "sidewalk", "vegetation", "vehicle", "wall", "traffic_sign", "sky", "ground", "bridge",
    "rail_track", "guard_rail", "traffic_light", "static", "dynamic", "water", "terrain",
)  # fmt: skip

MARKER_NAME = "STANDIN.txt"

# Fur colours (main, secondary) and pattern per stand-in breed.
_FUR: dict[str, tuple[tuple[int, int, int], tuple[int, int, int], str]] = {
    "Abyssinian": ((172, 112, 62), (112, 68, 38), "ticked"),
    "Bengal": ((204, 146, 74), (72, 46, 28), "spots"),
    "Persian": ((228, 222, 212), (178, 170, 160), "plain"),
    "Siamese": ((232, 218, 188), (78, 56, 44), "points"),
    "Russian_Blue": ((128, 134, 146), (96, 100, 112), "ticked"),
    "beagle": ((186, 124, 62), (238, 232, 222), "patches"),
    "boxer": ((192, 132, 72), (240, 236, 226), "underside"),
    "pug": ((214, 184, 136), (44, 36, 32), "points"),
    "samoyed": ((242, 240, 234), (214, 210, 200), "plain"),
    "shiba_inu": ((204, 122, 60), (242, 228, 204), "underside"),
}

_OXFORD_LIST_HEADER = (
    "#Image CLASS-ID SPECIES BREED ID\n"
    "#CLASS-ID: 1..37, the breed (class) id\n"
    "#SPECIES: 1 = Cat, 2 = Dog\n"
    "#BREED ID: 1..12 among cats, 1..25 among dogs\n"
    "#Cat image names start with a capital letter, dog image names with a small one\n"
)


# --------------------------------------------------------------------------- locations


def standin_root() -> Path:
    """Return the folder where stand-in data is generated and cached.

    ``$UNET_COURSE_DATA`` if set; otherwise ``<repo>/data/standin`` when this
    package sits in the course repository; otherwise
    ``~/.cache/unet-course/standin``.
    """
    env = os.environ.get("UNET_COURSE_DATA")
    if env:
        return Path(env).expanduser()
    repo = Path(__file__).resolve().parents[1]
    if (repo / "data" / "README.md").is_file():
        return repo / "data" / "standin"
    return Path.home() / ".cache" / "unet-course" / "standin"


# --------------------------------------------------------------------------- helpers


def species_of(breed: str) -> int:
    """Return the Oxford SPECIES id of a breed name: 1 = cat (Capitalised), 2 = dog."""
    return 1 if breed[0].isupper() else 2


def breed_id_of(breed: str) -> int:
    """Return the Oxford BREED-ID: the 1-based rank among breeds of the same species."""
    same = [b for b in OXFORD_LABEL_CLASSES if species_of(b) == species_of(breed)]
    return same.index(breed) + 1


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell_h: float, cell_w: float):
    """Zero-mean noise of unit-ish amplitude that varies over ``cell`` pixels."""
    gh = max(2, int(math.ceil(h / max(cell_h, 1.0))) + 1)
    gw = max(2, int(math.ceil(w / max(cell_w, 1.0))) + 1)
    small = rng.standard_normal((gh, gw)).astype(np.float32)
    big = Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)
    return np.asarray(big, dtype=np.float32)


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    """Binary dilation of ``mask`` by a disc of radius ``r`` (outside counts as False)."""
    h, w = mask.shape
    padded = np.zeros((h + 2 * r, w + 2 * r), dtype=bool)
    padded[r : r + h, r : r + w] = mask
    out = np.zeros_like(mask)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if dy * dy + dx * dx <= r * r:
                out |= padded[r + dy : r + dy + h, r + dx : r + dx + w]
    return out


def _ellipse(u, v, cu: float, cv: float, ru: float, rv: float, rot: float = 0.0):
    """Boolean mask of a (rotated) ellipse in the (u, v) coordinate frame."""
    du, dv = u - cu, v - cv
    if rot:
        c, s = math.cos(rot), math.sin(rot)
        du, dv = c * du + s * dv, -s * du + c * dv
    return (du / ru) ** 2 + (dv / rv) ** 2 <= 1.0


def _triangle(u, v, p0, p1, p2):
    """Boolean mask of the triangle p0-p1-p2 in the (u, v) coordinate frame."""

    def side(a, b):
        return (b[0] - a[0]) * (v - a[1]) - (b[1] - a[1]) * (u - a[0])

    s0, s1, s2 = side(p0, p1), side(p1, p2), side(p2, p0)
    return ((s0 >= 0) & (s1 >= 0) & (s2 >= 0)) | ((s0 <= 0) & (s1 <= 0) & (s2 <= 0))


def _jitter(rng: np.random.Generator, colour, amount: float = 18.0) -> np.ndarray:
    return np.clip(np.asarray(colour, np.float32) + rng.uniform(-amount, amount, 3), 0, 255)


# --------------------------------------------------------------------------- Oxford pets


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A textured indoor/outdoor-like background: gradients, stripes, tiles, noise, clutter."""
    yy = np.arange(h, dtype=np.float32)[:, None]
    xx = np.arange(w, dtype=np.float32)[None, :]
    c1, c2 = rng.uniform(25, 235, 3).astype(np.float32), rng.uniform(25, 235, 3).astype(np.float32)
    ang = rng.uniform(0, 2 * math.pi)
    t = (math.cos(ang) * xx + math.sin(ang) * yy) / max(h, w)
    t = (t - t.min()) / max(float(np.ptp(t)), 1e-6)
    img = (c1 + (c2 - c1) * t[..., None]).astype(np.float32)
    # A second surface (floor, sofa, lawn) below a horizon line.
    if rng.random() < 0.6:
        horizon = rng.uniform(0.45, 0.85) * h + 0.15 * h * math.sin(rng.uniform(0, 6)) * (xx / w)
        low = yy > horizon
        img[low] = _jitter(rng, rng.uniform(25, 235, 3), 0) * rng.uniform(0.85, 1.1)
    # Large blotches.
    amp = rng.uniform(12, 40)
    img += amp * _smooth_noise(rng, h, w, h / 3, w / 3)[..., None] * rng.uniform(0.6, 1.0, 3)
    # Stripes (curtains, wood, fences) or tiles.
    kind = rng.integers(0, 3)
    if kind == 0:
        period = rng.uniform(6, 28)
        theta = rng.uniform(0, math.pi)
        phase = (math.cos(theta) * xx + math.sin(theta) * yy) * 2 * math.pi / period
        img += rng.uniform(10, 35) * np.sin(phase)[..., None]
    elif kind == 1:
        tile = rng.uniform(14, 40)
        checker = ((xx // tile + yy // tile) % 2) * 2.0 - 1.0
        img += rng.uniform(8, 28) * checker[..., None]
    # Clutter: a few objects, sometimes in pet-like colours.
    for _ in range(int(rng.integers(0, 3))):
        colour = rng.uniform(30, 240, 3)
        if rng.random() < 0.4:
            colour = _jitter(rng, _FUR[STANDIN_BREEDS[rng.integers(len(STANDIN_BREEDS))]][0])
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(0.08, 0.25) * h, rng.uniform(0.08, 0.25) * w
        if rng.random() < 0.5:
            obj = (np.abs(yy - cy) < ry) & (np.abs(xx - cx) < rx)
        else:
            obj = _ellipse(xx, yy, cx, cy, rx, ry, rng.uniform(0, math.pi))
        shade = 1.0 + 0.15 * _smooth_noise(rng, h, w, 12, 12)
        img[obj] = colour * shade[obj][:, None]
    img += rng.uniform(3, 9) * rng.standard_normal((h, w, 1), dtype=np.float32)
    return img.astype(np.float32)


def _pet_shapes(rng: np.random.Generator, h: int, w: int, species: int):
    """Return (pet mask, head mask, 'points' mask, body frame (u, v, a, b)) for one pet."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    side = math.sqrt(h * w)
    close_up = rng.random() < (0.6 if h > 1.1 * w else 0.2)
    a = side * (rng.uniform(0.36, 0.44) if close_up else rng.uniform(0.27, 0.33))
    b = a * rng.uniform(0.6, 0.78)
    cx = w * (0.5 + rng.uniform(-0.12, 0.12))
    cy = h * (0.55 + rng.uniform(-0.08, 0.1))
    phi = rng.uniform(-0.45, 0.45)
    facing = 1.0 if rng.random() < 0.5 else -1.0
    c, s = math.cos(phi), math.sin(phi)
    u = facing * (c * (xx - cx) + s * (yy - cy))
    v = -s * (xx - cx) + c * (yy - cy)

    if close_up:  # head and shoulders, facing the camera
        rh = a * 0.62
        hu, hv = 0.0, -a * 0.35
        body = _ellipse(u, v, 0.0, a * 0.55, a * 0.85, a * 0.6)
        legs = np.zeros_like(body)
        tail = np.zeros_like(body)
    else:
        rh = b * rng.uniform(0.72, 0.92)
        hu, hv = a * rng.uniform(0.72, 0.95), -b * rng.uniform(0.55, 0.9)
        body = _ellipse(u, v, 0.0, 0.0, a, b)
        leg_len = b * rng.uniform(0.6, 1.1)
        legs = np.zeros_like(body)
        for lu in (-0.62, -0.38, 0.45, 0.66):
            lu_ = lu * a + rng.uniform(-0.05, 0.05) * a
            legs |= _ellipse(u, v, lu_, b * 0.55 + leg_len / 2, 0.11 * a, leg_len / 2 + 0.25 * b)
        tail_rot = rng.uniform(-1.0, 0.2)
        tail = _ellipse(u, v, -a * 1.12, -b * 0.35, a * 0.42, b * 0.13, tail_rot)
    head = _ellipse(u, v, hu, hv, rh, rh * rng.uniform(0.85, 1.0))
    ears = np.zeros_like(head)
    if species == 1:  # pointed cat ears
        for mid in (-0.55, 0.5):
            mid += rng.uniform(-0.12, 0.12)
            half = 0.32
            p0 = (hu + rh * math.sin(mid - half), hv - rh * math.cos(mid - half))
            p1 = (hu + rh * math.sin(mid + half), hv - rh * math.cos(mid + half))
            reach = rh * rng.uniform(1.45, 1.7)
            p2 = (hu + reach * math.sin(mid), hv - reach * math.cos(mid))
            ears |= _triangle(u, v, p0, p1, p2)
    else:  # floppy dog ears
        for sgn in (-1.0, 1.0):
            ears |= _ellipse(
                u, v, hu + sgn * rh * 0.82, hv + rh * 0.1, rh * 0.32, rh * 0.72, sgn * 0.35
            )
    head_all = head | ears
    pet = body | legs | tail | head_all
    # Dark "points": face, ears, legs, tail.
    face = _ellipse(u, v, hu + rh * 0.25, hv + rh * 0.25, rh * 0.6, rh * 0.55)
    points = ears | legs | tail | (face & head)
    return pet, head_all, points, (u, v, a, b)


def _fur(rng: np.random.Generator, breed: str, h: int, w: int, points, frame) -> np.ndarray:
    """Fur-like texture: directional streaks, fine grain, breed pattern, soft shading."""
    main, second, pattern = _FUR[breed]
    main, second = _jitter(rng, main), _jitter(rng, second)
    u, v, a, b = frame
    streak = _smooth_noise(rng, h, w, 1.5, rng.uniform(6, 12))
    grain = rng.normal(0.0, 1.0, (h, w)).astype(np.float32)
    img = np.broadcast_to(main, (h, w, 3)).astype(np.float32).copy()
    if pattern == "spots":
        spots = _smooth_noise(rng, h, w, a / 4, a / 4) > 0.75
        img[spots] = second
    elif pattern == "patches":
        patches = _smooth_noise(rng, h, w, a / 1.6, a / 1.6) > 0.35
        img[patches] = second
        img[(_smooth_noise(rng, h, w, a / 2, a / 2) > 0.9) & ~patches] = (40, 34, 30)
    elif pattern == "underside":
        img[v > b * 0.25] = second
    elif pattern == "points":
        img[points] = second
    elif pattern == "ticked":
        img += (second - main) * (0.5 + 0.5 * np.tanh(2.0 * grain))[..., None] * 0.6
    shade = 1.0 - 0.18 * np.clip(v / (2.5 * b), -1.0, 1.0)
    img *= shade[..., None]
    img += (14.0 * streak + 7.0 * grain)[..., None]
    return img


def _oxford_example(rng: np.random.Generator, breed: str):
    """Return (RGB uint8 image, trimap uint8, head bbox (xmin, ymin, xmax, ymax) 1-based)."""
    species = species_of(breed)
    while True:  # redraw the rare pet that leaves the frame or misses a class
        h, w = int(rng.integers(150, 321)), int(rng.integers(150, 321))
        pet, head, points, frame = _pet_shapes(rng, h, w, species)
        radius = int(np.clip(round(math.sqrt(h * w) / 75), 2, 4))
        band = _dilate(pet, radius) & _dilate(~pet, radius)
        # Pixels cut by the image edge stay pet, not band: outside counts as neither.
        inner = pet & ~band
        frac = pet.mean()
        if inner.any() and band.any() and head.any() and 0.22 < frac < 0.55:
            break
    trimap = np.full((h, w), 2, np.uint8)
    trimap[inner] = 1
    trimap[band] = 3

    bg = _background(rng, h, w)
    fur = _fur(rng, breed, h, w, points, frame)
    alpha = (
        np.asarray(
            Image.fromarray(pet.astype(np.uint8) * 255).filter(ImageFilter.GaussianBlur(1.2)),
            np.float32,
        )[..., None]
        / 255.0
    )
    shadow_src = np.roll(pet, (radius * 3, radius * 2), (0, 1)).astype(np.uint8) * 255
    shadow = np.asarray(Image.fromarray(shadow_src).filter(ImageFilter.GaussianBlur(6)))
    bg *= 1.0 - 0.35 * (shadow.astype(np.float32) / 255.0)[..., None]
    img = bg * (1.0 - alpha) + fur * alpha
    img *= rng.uniform(0.82, 1.12)
    rgb = np.clip(img + 0.5, 0, 255).astype(np.uint8)

    ys, xs = np.nonzero(head)
    bbox = (int(xs.min()) + 1, int(ys.min()) + 1, int(xs.max()) + 1, int(ys.max()) + 1)
    return rgb, trimap, bbox


def _head_xml(name: str, w: int, h: int, species: int, bbox) -> str:
    xmin, ymin, xmax, ymax = bbox
    animal = "cat" if species == 1 else "dog"
    return (
        "<annotation>\n"
        "  <folder>OXIIIT</folder>\n"
        f"  <filename>{name}.jpg</filename>\n"
        "  <source>\n"
        "    <database>OXFORD-IIIT Pet Dataset</database>\n"
        "    <annotation>OXIIIT</annotation>\n"
        "    <image>synthetic stand-in</image>\n"
        "  </source>\n"
        f"  <size>\n    <width>{w}</width>\n    <height>{h}</height>\n"
        "    <depth>3</depth>\n  </size>\n"
        "  <segmented>0</segmented>\n"
        "  <object>\n"
        f"    <name>{animal}</name>\n"
        "    <pose>Frontal</pose>\n"
        "    <truncated>0</truncated>\n"
        "    <occluded>0</occluded>\n"
        f"    <bndbox>\n      <xmin>{xmin}</xmin>\n      <ymin>{ymin}</ymin>\n"
        f"      <xmax>{xmax}</xmax>\n      <ymax>{ymax}</ymax>\n    </bndbox>\n"
        "    <difficult>0</difficult>\n"
        "  </object>\n"
        "</annotation>\n"
    )


def _oxford_marker(n_trainval: int, n_test: int, seed: int) -> str:
    return (
        "SYNTHETIC STAND-IN DATA - this is NOT the real Oxford-IIIT Pet dataset.\n"
        "Pet-like shapes on textured backgrounds, generated by unet_course.standin in the\n"
        "raw Oxford-IIIT Pet file layout so that the course runs offline. Results on it say\n"
        "nothing about the real dataset; see data/README.md for how to get the real data.\n"
        f"generator: unet_course.standin.make_oxford_standin version {GENERATOR_VERSION}\n"
        f"parameters: n_trainval={n_trainval} n_test={n_test} seed={seed}\n"
    )


def make_oxford_standin(
    root: str | os.PathLike, n_trainval: int = 200, n_test: int = 100, seed: int = 0
) -> Path:
    """Write a synthetic data set in the raw Oxford-IIIT Pet layout under ``root``.

    Creates ``images/<Name>_<k>.jpg`` (RGB JPEGs of varying sizes),
    ``annotations/trimaps/<Name>_<k>.png`` (8-bit single-channel PNGs with the
    values 1 = pet, 2 = background, 3 = border band), head boxes in
    ``annotations/xmls/`` for the trainval images, ``annotations/list.txt``,
    ``trainval.txt`` and ``test.txt`` (``Name_k CLASS-ID SPECIES BREED-ID``) and
    a ``STANDIN.txt`` marker. The same arguments always give byte-identical files.

    Returns:
        ``root`` as a :class:`~pathlib.Path`.
    """
    if n_trainval < 1 or n_test < 1:
        raise ValueError("make_oxford_standin needs n_trainval >= 1 and n_test >= 1")
    root = Path(root)
    images = root / "images"
    trimaps = root / "annotations" / "trimaps"
    xmls = root / "annotations" / "xmls"
    for folder in (images, trimaps, xmls):
        folder.mkdir(parents=True, exist_ok=True)

    total = n_trainval + n_test
    is_test = np.zeros(total, dtype=bool)
    is_test[np.random.default_rng([seed, 0x5EED]).permutation(total)[:n_test]] = True
    rows: list[tuple[int, int, str, bool]] = []
    for i in range(total):
        breed = STANDIN_BREEDS[i % len(STANDIN_BREEDS)]
        k = i // len(STANDIN_BREEDS) + 1
        name = f"{breed}_{k}"
        rgb, trimap, bbox = _oxford_example(np.random.default_rng([seed, i]), breed)
        Image.fromarray(rgb).save(images / f"{name}.jpg", quality=92)
        Image.fromarray(trimap).save(trimaps / f"{name}.png")
        if not is_test[i]:
            h, w = trimap.shape
            (xmls / f"{name}.xml").write_text(
                _head_xml(name, w, h, species_of(breed), bbox), encoding="utf-8"
            )
        rows.append((OXFORD_LABEL_CLASSES.index(breed) + 1, k, name, bool(is_test[i])))

    rows.sort()
    split_lines: dict[bool, list[str]] = {False: [], True: []}
    all_lines: list[str] = []
    for class_id, _, name, test in rows:
        breed = name.rsplit("_", 1)[0]
        line = f"{name} {class_id} {species_of(breed)} {breed_id_of(breed)}\n"
        split_lines[test].append(line)
        all_lines.append(line)
    ann = root / "annotations"
    (ann / "trainval.txt").write_text("".join(split_lines[False]), encoding="utf-8")
    (ann / "test.txt").write_text("".join(split_lines[True]), encoding="utf-8")
    (ann / "list.txt").write_text(_OXFORD_LIST_HEADER + "".join(all_lines), encoding="utf-8")
    (root / MARKER_NAME).write_text(_oxford_marker(n_trainval, n_test, seed), encoding="utf-8")
    return root


# --------------------------------------------------------------------------- CARLA


def _carla_scene(rng: np.random.Generator, h: int, w: int):
    """Return (RGB uint8 image, class-id uint8 map) of one street-like scene."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    labels = np.zeros((h, w), np.uint8)
    img = np.zeros((h, w, 3), np.float32)
    tex = _smooth_noise(rng, h, w, 6, 6)
    grain = rng.normal(0.0, 1.0, (h, w)).astype(np.float32)

    def paint(mask, cls: int, colour, texture: float = 10.0):
        colour = _jitter(rng, colour, 12)
        labels[mask] = cls
        img[mask] = colour + (texture * tex[mask] + 4.0 * grain[mask])[:, None]

    horizon = h * rng.uniform(0.38, 0.5)
    vx = w * rng.uniform(0.4, 0.6)
    # Sky with a vertical gradient (13) and terrain/ground below (22).
    paint(yy < horizon, 13, (120, 165, 225), 6.0)
    img[yy < horizon] += (40.0 * (yy / horizon))[yy < horizon][:, None]
    paint(yy >= horizon, 22, (92, 128, 64), 14.0)
    # Buildings (1) along the horizon, with window grids.
    x = rng.uniform(-20, 10)
    while x < w:
        bw = rng.uniform(0.12, 0.3) * w
        top = horizon - rng.uniform(0.15, 0.35) * h
        bld = (xx >= x) & (xx < x + bw) & (yy >= top) & (yy < horizon + 4)
        paint(bld, 1, rng.choice([(150, 140, 130), (120, 110, 105), (170, 160, 140)]), 8.0)
        win = bld & ((xx - x) % 10 < 4) & ((yy - top) % 12 < 5)
        img[win] *= 0.6
        x += bw + rng.uniform(0, 12)
    # Vegetation (9): tree crowns.
    for _ in range(int(rng.integers(1, 4))):
        tx, ty = rng.uniform(0, w), horizon - rng.uniform(0.0, 0.12) * h
        r = rng.uniform(0.05, 0.1) * w
        paint(_ellipse(xx, yy, tx, ty, r, r * 0.9), 9, (60, 110, 50), 22.0)
    # Road (7) and sidewalks (8): trapezoids from the vanishing point.
    depth = np.clip((yy - horizon) / (h - horizon), 0.0, None)
    half_road = depth * w * rng.uniform(0.45, 0.6)
    half_walk = half_road + depth * w * rng.uniform(0.15, 0.25)
    below = yy > horizon
    walk = below & (np.abs(xx - vx) <= half_walk)
    paint(walk, 8, (165, 160, 150), 6.0)
    road = below & (np.abs(xx - vx) <= half_road)
    paint(road, 7, (82, 82, 88), 5.0)
    # Fence (2) or wall (11) behind one sidewalk.
    if rng.random() < 0.7:
        cls = 2 if rng.random() < 0.5 else 11
        fence = (
            below & (np.abs(xx - vx) > half_walk) & (yy < horizon + depth * 0.25 * h + 6)
            & (xx < vx)
        )  # fmt: skip
        paint(fence, cls, (110, 90, 70) if cls == 2 else (140, 130, 120), 6.0)
    # Dashed centre line (6).
    dash = road & (np.abs(xx - vx) <= depth * 3 + 0.5) & (((yy - horizon) // 8) % 2 == 0)
    paint(dash, 6, (235, 230, 200), 3.0)
    # Vehicles (10) on the road.
    for _ in range(int(rng.integers(0, 3))):
        d = rng.uniform(0.25, 0.85)
        base = horizon + d * (h - horizon)
        half = d * w * rng.uniform(0.12, 0.18)
        cxv = vx + rng.uniform(-0.6, 0.6) * d * w * 0.5
        car = (np.abs(xx - cxv) <= half) & (yy <= base) & (yy >= base - half * 1.1)
        paint(car, 10, rng.uniform(20, 230, 3), 5.0)
        img[car & (yy < base - half * 0.6)] *= 0.55  # windows
    # Poles (5) with traffic signs (12) and pedestrians (4) on the sidewalks.
    for sgn in (-1.0, 1.0):
        if rng.random() < 0.8:
            d = rng.uniform(0.3, 0.9)
            base = horizon + d * (h - horizon)
            px = vx + sgn * (d * w * 0.55 + d * w * 0.08)
            pole = (np.abs(xx - px) <= max(1.0, d * 3)) & (yy <= base) & (yy >= base - d * 0.8 * h)
            paint(pole, 5, (120, 120, 125), 3.0)
            if rng.random() < 0.7:
                sign = _ellipse(xx, yy, px, base - d * 0.8 * h, d * 10 + 2, d * 10 + 2)
                paint(sign, 12, (200, 40, 40), 4.0)
        if rng.random() < 0.6:
            d = rng.uniform(0.3, 0.9)
            base = horizon + d * (h - horizon)
            px = vx + sgn * (d * w * 0.55 + d * w * 0.12) + rng.uniform(-5, 5)
            body = _ellipse(xx, yy, px, base - d * 0.2 * h, d * 6 + 1, d * 0.2 * h)
            head = _ellipse(xx, yy, px, base - d * 0.43 * h, d * 4 + 1, d * 4 + 1)
            paint(body | head, 4, rng.uniform(30, 200, 3), 5.0)
    img *= rng.uniform(0.85, 1.1)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8), labels


def _carla_marker(n: int, seed: int, size: tuple[int, int]) -> str:
    return (
        "SYNTHETIC STAND-IN DATA - this is NOT the real CARLA self-driving data set.\n"
        "Street-like scenes generated by unet_course.standin in the CARLA layout\n"
        "(CameraRGB/, CameraMask/ with the class id 0..22 in the red channel).\n"
        f"generator: unet_course.standin.make_carla_standin version {GENERATOR_VERSION}\n"
        f"parameters: n={n} seed={seed} size={size[0]}x{size[1]}\n"
    )


def make_carla_standin(
    root: str | os.PathLike, n: int = 60, seed: int = 0, size: tuple[int, int] = (192, 256)
) -> Path:
    """Write ``n`` synthetic street scenes in the CARLA layout under ``root``.

    ``CameraRGB/<name>.png`` is the RGB image and ``CameraMask/<name>.png`` an RGB
    PNG carrying the class id (0..22, see :data:`CARLA_CLASSES`) in its red
    channel and 0 in the others. ``size`` is ``(height, width)``.
    """
    root = Path(root)
    rgb_dir, mask_dir = root / "CameraRGB", root / "CameraMask"
    rgb_dir.mkdir(parents=True, exist_ok=True)
    mask_dir.mkdir(parents=True, exist_ok=True)
    h, w = size
    for i in range(n):
        rgb, labels = _carla_scene(np.random.default_rng([seed, 0xCA71A, i]), h, w)
        mask = np.zeros((h, w, 3), np.uint8)
        mask[..., 0] = labels
        Image.fromarray(rgb).save(rgb_dir / f"{i:06d}.png", compress_level=1)
        Image.fromarray(mask).save(mask_dir / f"{i:06d}.png", compress_level=1)
    (root / MARKER_NAME).write_text(_carla_marker(n, seed, size), encoding="utf-8")
    return root


# --------------------------------------------------------------------------- ensure_*


def _ensure(root: Path, marker: str, make: Callable[[Path], Path]) -> Path:
    """Generate into a temporary sibling folder, then move it into place atomically."""
    marker_file = root / MARKER_NAME
    if marker_file.is_file() and marker_file.read_text(encoding="utf-8") == marker:
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp = root.parent / f".{root.name}.tmp-{tag}"
    try:
        make(tmp)
        try:
            os.replace(tmp, root)  # succeeds when root is absent (or an empty folder)
        except OSError:
            if marker_file.is_file() and marker_file.read_text(encoding="utf-8") == marker:
                return root  # another process finished first
            old = root.parent / f".{root.name}.old-{tag}"
            os.replace(root, old)  # an outdated version: swap it out
            os.replace(tmp, root)
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def ensure_oxford_standin(
    root: str | os.PathLike | None = None,
    *,
    n_trainval: int = 200,
    n_test: int = 100,
    seed: int = 0,
) -> Path:
    """Return the raw-layout Oxford-IIIT Pet stand-in, generating it on first use.

    Defaults to ``standin_root() / "oxford_pets"``. Regenerates when the marker
    ``STANDIN.txt`` records another generator version or other parameters; safe
    to call from several processes at once.
    """
    root = Path(root) if root is not None else standin_root() / "oxford_pets"
    return _ensure(
        root,
        _oxford_marker(n_trainval, n_test, seed),
        lambda path: make_oxford_standin(path, n_trainval, n_test, seed),
    )


def ensure_carla_standin(
    root: str | os.PathLike | None = None,
    *,
    n: int = 60,
    seed: int = 0,
    size: tuple[int, int] = (192, 256),
) -> Path:
    """Return the CARLA-layout stand-in, generating it on first use.

    Defaults to ``standin_root() / "carla"``; otherwise as
    :func:`ensure_oxford_standin`.
    """
    root = Path(root) if root is not None else standin_root() / "carla"
    size = (int(size[0]), int(size[1]))
    return _ensure(
        root, _carla_marker(n, seed, size), lambda path: make_carla_standin(path, n, seed, size)
    )
