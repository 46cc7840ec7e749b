"""Oxford-IIIT Pet loaders that give the same elements whatever the data source.

Every loader returns a ``tf.data.Dataset`` of dicts with the keys and dtypes of
``tfds.load('oxford_iiit_pet')`` (its ``head_bbox`` is dropped)::

    {"image": uint8 (H, W, 3), "segmentation_mask": uint8 (H, W, 1) with values
     1 = pet, 2 = background, 3 = border, "label": int64 (breed 0..36),
     "species": int64 (0 = cat, 1 = dog), "file_name": string "<Name>_<k>.jpg"}

Sources (``load_pets(source=...)``):

* ``"tfds"``: the real data through ``tfds.load`` (downloads about 774 MiB once);
* ``"folder"``: the raw layout of the two archives from the Oxford VGG page,
  unpacked into one folder (:func:`load_pets_folder`);
* ``"standin"``: the offline synthetic stand-in (:mod:`unet_course.standin`),
  read by the same unchanged ``tfds.load`` call from a prepared copy
  (:func:`prepare_standin_tfds`);
* ``"auto"``: see :func:`resolve_source`.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np
import tensorflow as tf
from PIL import Image, UnidentifiedImageError

from . import standin
from .errors import DataError

__all__ = [
    "ELEMENT_KEYS",
    "SOURCES",
    "SourceInfo",
    "last_source",
    "load_pets",
    "load_pets_folder",
    "prepare_standin_tfds",
    "resolve_source",
]

TFDS_NAME = "oxford_iiit_pet"
TFDS_VERSION = "4.0.0"
SOURCES = ("auto", "tfds", "folder", "standin")
ELEMENT_KEYS = ("image", "segmentation_mask", "label", "species", "file_name")

_GET_REAL_DATA = (
    "To use the real Oxford-IIIT Pet data: load_pets(source='tfds') on Colab or any machine "
    "with internet, or unpack images.tar.gz and annotations.tar.gz from "
    "https://www.robots.ox.ac.uk/~vgg/data/pets/ into one folder and call "
    "load_pets(source='folder', folder=...) (or set $OXFORD_PETS_DIR)."
)


# --------------------------------------------------------------------------- source info


@dataclass(frozen=True)
class SourceInfo:
    """Which data a loader actually used; ``str(info)`` is the line it printed."""

    source: str  # "tfds", "folder" or "standin"
    location: str
    split: str
    num_examples: int | None
    synthetic: bool
    reason: str = ""

    def __str__(self) -> str:
        count = f" ({self.num_examples} examples)" if self.num_examples is not None else ""
        why = f" [{self.reason}]" if self.reason else ""
        if self.synthetic:
            what = (
                "SYNTHETIC STAND-IN data, NOT the real Oxford-IIIT Pet dataset"
                f" (source '{self.source}', {self.location})"
            )
        elif self.source == "tfds":
            what = f"the real Oxford-IIIT Pet dataset via tfds (data_dir {self.location})"
        else:
            what = f"the Oxford-IIIT Pet dataset from the folder {self.location}"
        return f"Data: {what}, split '{self.split}'{count}{why}"


_LAST: SourceInfo | None = None


def last_source() -> SourceInfo | None:
    """Return what the last :func:`load_pets` / :func:`load_pets_folder` call used."""
    return _LAST


def _record(info: SourceInfo, verbose: bool) -> None:
    global _LAST
    _LAST = info
    if verbose:
        print(info)


def _running_on_colab() -> bool:
    return "google.colab" in sys.modules or bool(os.environ.get("COLAB_RELEASE_TAG"))


def resolve_source(source: str = "auto", folder: str | os.PathLike | None = None):
    """Return ``(source, reason)`` with ``source`` one of "tfds", "folder", "standin".

    ``"auto"`` picks, in this order: the stand-in when ``$NBGRADER_EXECUTION`` is
    set (nbgrader is grading or validating); ``$UNET_COURSE_SOURCE`` if set; the
    folder when ``folder`` is given; tfds on Google Colab; the folder in
    ``$OXFORD_PETS_DIR`` if set; otherwise the stand-in.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if source != "auto":
        return source, ""
    if os.environ.get("NBGRADER_EXECUTION"):
        return "standin", "auto: NBGRADER_EXECUTION is set"
    env = os.environ.get("UNET_COURSE_SOURCE")
    if env:
        if env not in SOURCES[1:]:
            raise ValueError(f"$UNET_COURSE_SOURCE must be one of {SOURCES[1:]}, got {env!r}")
        return env, "auto: $UNET_COURSE_SOURCE"
    if folder is not None:
        return "folder", "auto: folder given"
    if _running_on_colab():
        return "tfds", "auto: running on Colab"
    if os.environ.get("OXFORD_PETS_DIR"):
        return "folder", "auto: $OXFORD_PETS_DIR"
    return "standin", "auto: no real data configured"


# --------------------------------------------------------------------------- tfds copy


def _tfds_stamp(data_dir: Path) -> Path:
    return data_dir / TFDS_NAME / TFDS_VERSION / standin.MARKER_NAME


def _stage_download(raw: Path, stage: Path) -> dict[str, Path]:
    """Mimic the unpacked archives: images/images -> raw/images, annotations/annotations."""
    out = {}
    for key in ("images", "annotations"):
        (stage / key).mkdir(parents=True)
        link = stage / key / key
        try:
            link.symlink_to(raw.resolve() / key, target_is_directory=True)
        except OSError:  # no symlinks (e.g. Windows without developer mode)
            shutil.copytree(raw / key, link)
        out[key] = stage / key
    return out


def _build_with_tfds(build_dir: Path, paths: dict[str, Path]) -> Path:
    """Run tfds' own oxford_iiit_pet builder with its download step pointed at ``paths``."""
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core.utils import tqdm_utils

    builder = tfds.builder(TFDS_NAME, data_dir=os.fspath(build_dir))
    if str(builder.version) != TFDS_VERSION:
        raise DataError(
            f"tfds builds {TFDS_NAME} version {builder.version}, but the course expects "
            f"{TFDS_VERSION}. Install tensorflow-datasets 4.9.x (pip install "
            "'tensorflow-datasets>=4.9.9,<5')."
        )

    def local_download_and_extract(self, url_or_urls):
        if not isinstance(url_or_urls, dict) or set(url_or_urls) != set(paths):
            raise DataError(
                f"the tfds builder for {TFDS_NAME} asked for {url_or_urls!r}; the stand-in "
                "only provides the 'images' and 'annotations' archives. The installed "
                "tensorflow-datasets differs from 4.9.x: install that version."
            )
        return dict(paths)

    captured = io.StringIO()
    try:
        with (
            mock.patch.object(
                tfds.download.DownloadManager, "download_and_extract", local_download_and_extract
            ),
            mock.patch.object(tqdm_utils, "_active", False, create=True),
            contextlib.redirect_stdout(captured),
            contextlib.redirect_stderr(captured),
        ):
            builder.download_and_prepare(download_dir=os.fspath(build_dir / "downloads"))
    except Exception:
        sys.stdout.write(captured.getvalue())
        raise
    return build_dir / TFDS_NAME / TFDS_VERSION


def prepare_standin_tfds(
    data_dir: str | os.PathLike | None = None, *, raw: str | os.PathLike | None = None
) -> Path:
    """Make ``tfds.load('oxford_iiit_pet', data_dir=data_dir)`` read the stand-in offline.

    Runs tfds' own ``oxford_iiit_pet`` builder (version 4.0.0) over the raw-layout
    stand-in ``raw`` (default: :func:`unet_course.standin.ensure_oxford_standin`)
    with only its download step pointed at the local folders. Skips the work
    when ``data_dir`` already holds a copy of the same stand-in. Default
    ``data_dir``: ``standin_root() / "tfds"``.

    Returns:
        ``data_dir``, to pass to ``tfds.load``.
    """
    raw = Path(raw) if raw is not None else standin.ensure_oxford_standin()
    marker_file = raw / standin.MARKER_NAME
    if not marker_file.is_file():
        raise DataError(
            f"{marker_file} is missing, so {raw} is not a stand-in made by unet_course.standin. "
            "Pass raw= a folder made by make_oxford_standin (or leave it out)."
        )
    marker = marker_file.read_text(encoding="utf-8")
    data_dir = Path(data_dir) if data_dir is not None else standin.standin_root() / "tfds"
    target = data_dir / TFDS_NAME / TFDS_VERSION
    stamp = _tfds_stamp(data_dir)
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == marker:
        return data_dir
    if target.exists() and not stamp.is_file():
        raise DataError(
            f"{target} holds a tfds copy of {TFDS_NAME} that is not the stand-in (it has no "
            f"{standin.MARKER_NAME}); it is left untouched. Pass another data_dir= for the "
            "stand-in."
        )
    work = data_dir / f".standin-build-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        built = _build_with_tfds(work / "tfds", _stage_download(raw, work / "download"))
        (built / standin.MARKER_NAME).write_text(marker, encoding="utf-8")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(built, target)
        except OSError:  # an outdated stand-in copy, or another process was faster
            if not (stamp.is_file() and stamp.read_text(encoding="utf-8") == marker):
                old = work / "old"
                os.replace(target, old)
                os.replace(built, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return data_dir


# --------------------------------------------------------------------------- folder loader


@dataclass(frozen=True)
class _Row:
    name: str
    class_id: int
    species: int
    list_file: Path


def _parse_list(list_file: Path) -> list[_Row]:
    rows = []
    for number, line in enumerate(list_file.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        fields = text.split()
        problem = ""
        if len(fields) != 4 or not all(f.isdigit() for f in fields[1:]):
            problem = "expected 4 fields 'Name_k CLASS-ID SPECIES BREED-ID' (three integers)"
        elif not 1 <= int(fields[1]) <= len(standin.OXFORD_LABEL_CLASSES):
            problem = f"CLASS-ID must be 1..{len(standin.OXFORD_LABEL_CLASSES)}"
        elif int(fields[2]) not in (1, 2):
            problem = "SPECIES must be 1 (cat) or 2 (dog)"
        if problem:
            raise DataError(
                f"{list_file}, line {number}: {problem}, got {line!r}. Fix or delete that line "
                "(or unpack annotations.tar.gz again)."
            )
        rows.append(_Row(fields[0], int(fields[1]), int(fields[2]), list_file))
    return rows


def _split_rows(root: Path, name: str) -> list[_Row]:
    if not root.is_dir():
        raise DataError(
            f"the Oxford-IIIT Pet folder {root} does not exist. Unpack images.tar.gz and "
            "annotations.tar.gz into one folder (it then holds images/ and annotations/) and "
            "pass that folder."
        )
    list_file = root / "annotations" / ("trainval.txt" if name == "train" else "test.txt")
    if not list_file.is_file():
        raise DataError(
            f"{list_file} is missing: {root} does not have the raw Oxford-IIIT Pet layout. "
            "Unpack annotations.tar.gz into it (it creates annotations/ with trainval.txt, "
            "test.txt and trimaps/)."
        )
    return _parse_list(list_file)


_SPLIT_RE = re.compile(r"^(train|test)(?:\[(-?\d+(?:\.\d+)?%?)?:(-?\d+(?:\.\d+)?%?)?\])?$")


def _slice_bound(text: str | None, n: int, default: int, spec: str) -> int:
    if text is None:
        return default
    if text.endswith("%"):
        value = int(round(float(text[:-1]) * n / 100.0))  # tfds' "closest" rounding
    else:
        value = int(text)
    if abs(value) > n:
        raise ValueError(f"split {spec!r}: bound {text} is outside a split of {n} examples")
    return value + n if value < 0 else value


def _select_rows(root: Path, split: str) -> list[_Row]:
    """Rows of a split spec: "train", "test", slices "train[:80%]" / "test[10:20]", "a+b"."""
    rows: list[_Row] = []
    for part in split.replace(" ", "").split("+"):
        match = _SPLIT_RE.match(part)
        if not match:
            raise ValueError(
                f"unsupported split {split!r}: use 'train', 'test', a slice like 'train[:80%]' "
                "or 'test[10:50]', or several joined with '+'"
            )
        name, lo, hi = match.groups()
        part_rows = _split_rows(root, name)
        n = len(part_rows)
        rows += part_rows[_slice_bound(lo, n, 0, split) : _slice_bound(hi, n, n, split)]
    return rows


def _paths(root: Path, row: _Row) -> tuple[Path, Path]:
    return root / "images" / f"{row.name}.jpg", root / "annotations" / "trimaps" / f"{row.name}.png"


def _grey_values(im: Image.Image) -> np.ndarray | None:
    """The 8-bit values ``tf.io.decode_png(channels=1)`` gives, or None if ambiguous."""
    if im.mode == "L":
        return np.asarray(im)
    if im.mode not in ("P", "LA", "RGB", "RGBA"):
        return None  # 16-bit, 1-bit, float ...: TF would rescale the values
    rgb = np.asarray(im.convert("RGB"))
    red = rgb[..., 0]
    if np.array_equal(red, rgb[..., 1]) and np.array_equal(red, rgb[..., 2]):
        return red  # grey pixels decode to the same value
    return None


def _check_row(root: Path, row: _Row) -> str | None:
    """Return a problem description for one example, or None when it is fine."""
    image_path, trimap_path = _paths(root, row)
    for path, what, archive in (
        (image_path, "image", "images.tar.gz"),
        (trimap_path, "trimap", "annotations.tar.gz"),
    ):
        if not path.is_file():
            return (
                f"{path}: the {what} of {row.name} (listed in {row.list_file.name}) is missing. "
                f"Unpack {archive} again, or delete the line of {row.name} from {row.list_file}."
            )
    try:
        with Image.open(image_path) as im:
            size = im.size
            im.draft("RGB", (max(1, size[0] // 8), max(1, size[1] // 8)))  # fast, still decodes
            im.load()
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError) as exc:
        return (
            f"{image_path}: the image file is corrupt or not an image ({exc}). Unpack "
            f"images.tar.gz again, or delete the file and the line of {row.name} from "
            f"{row.list_file}."
        )
    try:
        with Image.open(trimap_path) as im:
            mode, tsize = im.mode, im.size
            trimap = _grey_values(im)
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError) as exc:
        return (
            f"{trimap_path}: the trimap file is corrupt or not a PNG ({exc}). Unpack "
            "annotations.tar.gz again."
        )
    if trimap is None:
        return (
            f"{trimap_path}: a trimap must be an 8-bit greyscale PNG (one channel, or equal "
            f"red, green and blue), this one has PIL mode {mode!r} with other values. Unpack "
            "annotations.tar.gz again instead of re-saving trimaps."
        )
    if tsize != size:
        return (
            f"{trimap_path}: the trimap is {tsize[0]}x{tsize[1]} pixels but its image "
            f"{image_path.name} is {size[0]}x{size[1]}; a trimap must have the size of its image. "
            "Use the original, unresized files."
        )
    low, high = int(trimap.min()), int(trimap.max())
    if low < 1 or high > 3:
        bad = np.unique(trimap[(trimap < 1) | (trimap > 3)])[:6].tolist()
        return (
            f"{trimap_path}: trimap values must be 1 (pet), 2 (background) or 3 (border), found "
            f"{bad}. Use the original trimaps (values 1/2/3), not a converted mask."
        )
    return None


def _check_rows(root: Path, rows: list[_Row]) -> None:
    workers = min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for problem in pool.map(lambda row: _check_row(root, row), rows):
            if problem:
                raise DataError(problem)


def _decode_example(image_path, trimap_path, label, species, file_name):
    image = tf.io.decode_image(tf.io.read_file(image_path), channels=3, expand_animations=False)
    mask = tf.io.decode_png(tf.io.read_file(trimap_path), channels=1)
    return {
        "image": image,
        "segmentation_mask": mask,
        "label": label,
        "species": species,
        "file_name": file_name,
    }


def _folder_dataset(root: Path, split: str, check: bool) -> tuple[tf.data.Dataset, int]:
    rows = _select_rows(root, split)
    if check:
        _check_rows(root, rows)
    paths = [_paths(root, r) for r in rows]
    ds = tf.data.Dataset.from_tensor_slices(
        (
            tf.constant([os.fspath(image) for image, _ in paths], tf.string),
            tf.constant([os.fspath(trimap) for _, trimap in paths], tf.string),
            tf.constant([r.class_id - 1 for r in rows], tf.int64),
            tf.constant([r.species - 1 for r in rows], tf.int64),
            tf.constant([f"{r.name}.jpg" for r in rows], tf.string),
        )
    )
    ds = ds.map(_decode_example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds, len(rows)


def load_pets_folder(
    root: str | os.PathLike, split: str = "train", check: bool = True
) -> tf.data.Dataset:
    """Load the raw Oxford-IIIT Pet layout (the two archives unpacked into ``root``).

    ``root/annotations/trainval.txt`` lists the "train" split and ``test.txt``
    the "test" split (in file order); images come from ``root/images/<Name>.jpg``,
    trimaps from ``root/annotations/trimaps/<Name>.png``. ``split`` also takes
    tfds-style slices such as ``"train[:80%]"`` or ``"test[10:20]"``.

    With ``check=True`` every listed example is verified before the dataset is
    returned (files exist and decode, trimap values are 1/2/3, image and trimap
    sizes agree); any problem raises :class:`~unet_course.errors.DataError`
    naming the file.
    """
    root = Path(root)
    ds, n = _folder_dataset(root, split, check)
    global _LAST
    _LAST = SourceInfo("folder", os.fspath(root), split, n, (root / standin.MARKER_NAME).is_file())
    return ds


# --------------------------------------------------------------------------- load_pets


def _select_keys(ds: tf.data.Dataset) -> tf.data.Dataset:
    return ds.map(lambda ex: {k: ex[k] for k in ELEMENT_KEYS}, num_parallel_calls=tf.data.AUTOTUNE)


def _tfds_load(split: str, data_dir: str | os.PathLike | None, hint: str) -> tf.data.Dataset:
    import tensorflow_datasets as tfds

    try:
        ds = tfds.load(
            TFDS_NAME, split=split, data_dir=None if data_dir is None else os.fspath(data_dir)
        )
    except Exception as exc:
        if hasattr(exc, "add_note"):
            exc.add_note(hint)
        else:  # Python 3.10
            print(hint)
        raise
    return _select_keys(ds)


def _count(ds: tf.data.Dataset) -> int | None:
    n = int(ds.cardinality())
    return n if n >= 0 else None


def load_pets(
    split: str = "train",
    source: str = "auto",
    data_dir: str | os.PathLike | None = None,
    folder: str | os.PathLike | None = None,
    verbose: bool = True,
) -> tf.data.Dataset:
    """Load Oxford-IIIT Pet examples (or the offline stand-in) as a ``tf.data.Dataset``.

    Args:
        split: "train", "test" or a tfds slice such as "train[:80%]".
        source: "auto", "tfds", "folder" or "standin" (see :func:`resolve_source`).
        data_dir: tfds ``data_dir`` for "tfds"; for "standin" where its tfds copy goes
            (default ``standin_root() / "tfds"``).
        folder: the raw-layout folder for "folder" (default ``$OXFORD_PETS_DIR``).
        verbose: print one line naming the data actually used.

    Every source gives the same element structure (see the module docstring).
    :func:`last_source` tells afterwards which data was used.
    """
    chosen, reason = resolve_source(source, folder)
    if chosen == "tfds":
        synthetic = data_dir is not None and _tfds_stamp(Path(data_dir)).is_file()
        hint = (
            "tfds could not load oxford_iiit_pet (it needs internet the first time). Without "
            "internet use load_pets(source='standin') for the offline stand-in, or "
            "load_pets(source='folder', folder=...) for the unpacked archives."
        )
        ds = _tfds_load(split, data_dir, hint)
        location = os.fspath(data_dir) if data_dir else "tfds default (~/tensorflow_datasets)"
        info = SourceInfo("tfds", location, split, _count(ds), synthetic, reason)
    elif chosen == "folder":
        folder = folder if folder is not None else os.environ.get("OXFORD_PETS_DIR")
        if not folder:
            raise DataError(
                "source='folder' needs the folder with the unpacked Oxford-IIIT Pet archives: "
                "pass folder=... or set $OXFORD_PETS_DIR."
            )
        root = Path(folder).expanduser()
        ds, n = _folder_dataset(root, split, check=True)
        synthetic = (root / standin.MARKER_NAME).is_file()
        info = SourceInfo("folder", os.fspath(root), split, n, synthetic, reason)
    else:
        tfds_dir = prepare_standin_tfds(data_dir)
        ds = _tfds_load(split, tfds_dir, "The stand-in tfds copy could not be read.")
        info = SourceInfo("standin", f"tfds copy in {tfds_dir}", split, _count(ds), True, reason)
    _record(info, verbose)
    if verbose and reason == "auto: no real data configured":
        print(_GET_REAL_DATA)
    return ds
