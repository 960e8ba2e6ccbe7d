"""Generate a small synthetic chest-x-ray-like image set, the same for the same seed.

    python generate.py OUT [--count 2400] [--size 32] [--seed 7]

Writes ``OUT/{train,val}/{normal,pneumonia}/NNNN.png``: 8-bit grayscale images of a bright
"body" with two dark "lungs"; a pneumonia image has a blurred bright patch (an opacity) in one
lung. Every image also gets its own exposure and noise, so a model has to look at the lungs, not
at the overall brightness. One image in five goes to ``val``, the classes alternate (balanced).

The pixels depend on the seed alone (Python's ``random``, no numpy). The file bytes also depend on
the encoder: Pillow when installed, else the small writer in ``tinypng.py``; the same machine
setup gives the same files, so a second sync of them commits nothing new.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from pathlib import Path

import tinypng

CLASSES = ("normal", "pneumonia")
LUNGS = ((0.31, 0.52), (0.69, 0.52))  # centres, as fractions of the image's side
LUNG_RADII = (0.15, 0.30)


def body(size: int) -> list[float]:
    """The shared anatomy, brightness 0..1 per pixel: a bright body, two dark lungs with soft edges."""
    pixels = []
    for y in range(size):
        for x in range(size):
            u, v = (x + 0.5) / size, (y + 0.5) / size
            value = 0.78 - 0.1 * abs(u - 0.5)  # a little darker towards the sides
            for cu, cv in LUNGS:
                reach = math.hypot((u - cu) / LUNG_RADII[0], (v - cv) / LUNG_RADII[1])
                value -= 0.5 / (1 + math.exp((reach - 1) * 8))
            pixels.append(value)
    return pixels


def image(base: list[float], size: int, sick: bool, rng: random.Random) -> bytes:
    exposure = rng.uniform(0.8, 1.2)
    pixels = [value * exposure for value in base]
    if sick:
        cu, cv = rng.choice(LUNGS)
        cu += rng.uniform(-0.6, 0.6) * LUNG_RADII[0]
        cv += rng.uniform(-0.6, 0.6) * LUNG_RADII[1]
        sigma, strength = rng.uniform(0.05, 0.1) * size, rng.uniform(0.2, 0.4)
        cx, cy = cu * size, cv * size
        reach = int(3 * sigma) + 1  # the blob is negligible beyond three sigmas
        for y in range(max(0, int(cy) - reach), min(size, int(cy) + reach + 1)):
            for x in range(max(0, int(cx) - reach), min(size, int(cx) + reach + 1)):
                distance2 = (x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2
                pixels[y * size + x] += strength * math.exp(-distance2 / (2 * sigma * sigma))
    return bytes(min(255, max(0, round((value + rng.gauss(0, 0.05)) * 255))) for value in pixels)


def writer():
    """Pillow's PNG encoder when installed, else ``tinypng``'s."""
    try:
        from PIL import Image
    except ImportError:
        return tinypng.write_gray

    def write(path: Path, width: int, height: int, pixels: bytes) -> None:
        Image.frombytes("L", (width, height), pixels).save(path, format="PNG")

    return write


def generate(out: Path, count: int, size: int, seed: int) -> dict[str, int]:
    rng, base, write = random.Random(seed), body(size), writer()
    counts: dict[str, int] = {}
    for index in range(count):
        label = CLASSES[index % 2]
        split = "val" if index % 5 == 4 else "train"
        folder = out / split / label
        folder.mkdir(parents=True, exist_ok=True)
        write(folder / f"{index:04d}.png", size, size, image(base, size, label == "pneumonia", rng))
        counts[f"{split}/{label}"] = counts.get(f"{split}/{label}", 0) + 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="directory to write (created)")
    parser.add_argument("--count", type=int, default=2400, help="number of images (default 2400)")
    parser.add_argument("--size", type=int, default=32, help="side of the square images in pixels (default 32)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    args = parser.parse_args()
    if args.count < 10 or args.size < 8:
        parser.error("use at least 10 images of at least 8x8 pixels")
    counts = generate(args.out, args.count, args.size, args.seed)
    print(f"wrote {args.count} images of {args.size}x{args.size} to {args.out}: "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), file=sys.stderr)


if __name__ == "__main__":
    main()
