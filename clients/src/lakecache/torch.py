"""Image datasets for PyTorch over a cached view (the extra ``lakecache[torch]``: torch and Pillow).

    import lakecache
    from lakecache.torch import ImageFolder, to_tensor
    from torch.utils.data import DataLoader

    with lakecache.use("team/xray@v1", site="dgx") as root:
        data = ImageFolder(root / "train", transform=to_tensor)
        for images, labels in DataLoader(data, batch_size=64, shuffle=True):
            ...

``ImageFolder`` reads the layout torchvision's ``ImageFolder`` reads — one directory per class,
``root/<class>/**/<image>`` — and is a map-style dataset (``__len__`` and ``__getitem__``), which
is all a ``DataLoader`` asks of one. It lists the view once with ``lakecache.files``: the same
samples in the same order on every host (a seeded shuffle or a split by index is reproducible
across sites), and never through a link.

Neither torch nor Pillow is imported with this module: the index and the class mapping are plain
Python, torch is imported by ``to_tensor`` alone and Pillow by the default loader alone, so the
dataset also serves code without torch (pass ``loader=`` to decode without Pillow).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakecache.sdk.listing import files

if TYPE_CHECKING:
    import torch
    from PIL.Image import Image

#: File name endings taken as images (compared without case): the formats Pillow decodes that
#: torchvision's ImageFolder takes.
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".pgm", ".pbm", ".bmp", ".tif", ".tiff", ".webp")

_NOFOLLOW = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC


class ImageFolder:
    """``root/<class>/**/<file>`` as ``(image, label)`` samples.

    - ``classes``: the top-level directories that hold files, sorted; ``class_to_idx`` maps each
      to its label, its index in ``classes``. Files directly under ``root`` belong to no class and
      are left out.
    - ``samples``: ``(path, label)`` for every file whose name ends with one of ``extensions``,
      by class, then in ``lakecache.files`` order; ``targets`` their labels.
    - ``dataset[i]`` is ``(transform(loader(path)), target_transform(label))``, each transform
      skipped when ``None``. The default loader decodes with Pillow and converts to ``mode``
      (``"RGB"``; ``"L"`` for grayscale; ``None`` keeps the file's mode).

    A class directory without any such file is refused (``FileNotFoundError``): its label would
    exist with no sample, and every label after it would shift once someone adds the missing files.
    """

    def __init__(self, root: str | os.PathLike[str], *, transform: Callable[[Any], Any] | None = None,
                 target_transform: Callable[[int], Any] | None = None,
                 loader: Callable[[Path], Any] | None = None, extensions: Iterable[str] = IMG_EXTENSIONS,
                 mode: str | None = "RGB") -> None:
        self.root = Path(root)
        self.transform = transform
        self.target_transform = target_transform
        # A partial of a module-level function, not a lambda: DataLoader workers started with
        # 'spawn' receive the dataset pickled.
        self.loader = loader if loader is not None else functools.partial(load_image, mode=mode)
        self.extensions = tuple(e.lower() for e in extensions)
        by_class: dict[str, list[Path]] = {}
        for path in files(self.root):
            parts = path.relative_to(self.root).parts
            if len(parts) < 2:
                continue
            found = by_class.setdefault(parts[0], [])
            if path.name.lower().endswith(self.extensions):
                found.append(path)
        empty = sorted(name for name, paths in by_class.items() if not paths)
        if empty:
            raise FileNotFoundError(f"class directories {empty} under {self.root} hold no file ending in "
                                    f"{', '.join(self.extensions)}; remove them or pass extensions=…")
        if not by_class:
            raise FileNotFoundError(f"{self.root} has no class directory with files: ImageFolder reads "
                                    "root/<class>/<image> (one directory per class)")
        self.classes = sorted(by_class)
        self.class_to_idx = {name: index for index, name in enumerate(self.classes)}
        self.samples = [(path, index) for index, name in enumerate(self.classes) for path in by_class[name]]
        self.targets = [label for _, label in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        path, label = self.samples[index]
        sample = self.loader(path)
        if self.transform is not None:
            sample = self.transform(sample)
        target: Any = label
        if self.target_transform is not None:
            target = self.target_transform(label)
        return sample, target

    def __repr__(self) -> str:
        return f"ImageFolder({str(self.root)!r}: {len(self.samples)} samples, classes {self.classes})"


def load_image(path: str | os.PathLike[str], mode: str | None = "RGB") -> Image:
    """Decode the image at ``path`` with Pillow, converted to ``mode`` (``None``: as stored).
    The file is opened without following a link, as ``files`` lists it."""
    try:
        from PIL import Image
    except ImportError as exc:
        raise ImportError("decoding images needs Pillow: pip install 'lakecache[torch]', or give ImageFolder "
                          "a loader=") from exc
    with open(path, "rb", opener=_open_nofollow) as stream, Image.open(stream) as image:
        image.load()
        return image.convert(mode) if mode is not None and image.mode != mode else image.copy()


def _open_nofollow(path: str, flags: int) -> int:
    return os.open(path, _NOFOLLOW)


#: Pillow modes ``to_tensor`` reads: 8 bits per band.
_BYTE_MODES = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4, "CMYK": 4}


def to_tensor(image: Image) -> torch.Tensor:
    """A Pillow image as a float tensor ``(channels, height, width)`` in ``[0, 1]``, as
    torchvision's ``ToTensor`` makes it, without torchvision or numpy. 8-bit modes only (``L``,
    ``LA``, ``RGB``, ``RGBA``, ``CMYK``); convert others first (``mode=`` of ``ImageFolder``)."""
    import torch

    bands = _BYTE_MODES.get(image.mode)
    if bands is None:
        raise ValueError(f"to_tensor reads 8-bit images ({', '.join(_BYTE_MODES)}), not mode {image.mode!r}: "
                         "convert it first, e.g. ImageFolder(..., mode='RGB')")
    width, height = image.size
    pixels = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
    return pixels.view(height, width, bands).permute(2, 0, 1).float().div(255)


__all__ = ["IMG_EXTENSIONS", "ImageFolder", "load_image", "to_tensor"]
