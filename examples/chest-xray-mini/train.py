"""Train a tiny pneumonia classifier on a cached dataset commit, tracked as a LakeCache run.

    python train.py PROJECT/DATASET@REF --site SITE [--steps 60] [--result result.json]

Reads the commit through ``lakecache.use`` (its cached copy at SITE, under a lease; the read is
recorded on the run: commit, site, cache hit), lists it with ``lakecache.files`` and loads it with
``lakecache.torch.ImageFolder`` (``train/`` and ``val/``, one directory per class). The model is a
logistic regression on 8x8 average-pooled pixels, trained by full-batch gradient descent in plain
Python: 64 features of a few thousand images need no numpy or torch, so the example runs on any
CPU with nothing but the SDK. Loss and accuracy go to the run every step, validation accuracy
every ten steps and at the end.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from pathlib import Path

import tinypng

import lakecache
from lakecache.torch import ImageFolder

POOL = 8  # features per side


def decode(path: Path) -> tuple[int, int, bytes]:
    """``(width, height, pixels)``, 8-bit grayscale: Pillow when installed, else ``tinypng``."""
    try:
        from PIL import Image
    except ImportError:
        return tinypng.decode_gray(path.read_bytes())
    with Image.open(path) as image:
        gray = image.convert("L")
        return gray.width, gray.height, gray.tobytes()


def pooled(image: tuple[int, int, bytes]) -> list[float]:
    """Mean brightness (0..1) of each cell of a POOL x POOL grid."""
    width, height, pixels = image
    cells = [0.0] * (POOL * POOL)
    for y in range(height):
        row = (y * POOL // height) * POOL
        for x in range(width):
            cells[row + x * POOL // width] += pixels[y * width + x]
    per_cell = width * height / (POOL * POOL) * 255
    return [c / per_cell for c in cells]


def features(data: ImageFolder) -> tuple[list[list[float]], list[int]]:
    samples = [data[i] for i in range(len(data))]
    return [x for x, _ in samples], [y for _, y in samples]


def standardizer(rows: list[list[float]]):
    n = len(rows)
    means = [sum(col) / n for col in zip(*rows, strict=True)]
    stds = [math.sqrt(sum((v - m) ** 2 for v in col) / n) or 1.0 for col, m in zip(zip(*rows, strict=True), means,
                                                                                    strict=True)]
    return lambda row: [(v - m) / s for v, m, s in zip(row, means, stds, strict=True)]


def predict(weights: list[float], bias: float, row: list[float]) -> float:
    z = bias + sum(w * v for w, v in zip(weights, row, strict=True))
    return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))


def evaluate(weights: list[float], bias: float, rows: list[list[float]], labels: list[int]) -> tuple[float, float]:
    """Mean log loss and accuracy."""
    loss = correct = 0.0
    for row, label in zip(rows, labels, strict=True):
        p = min(max(predict(weights, bias, row), 1e-9), 1 - 1e-9)
        loss -= math.log(p) if label else math.log(1 - p)
        correct += (p >= 0.5) == bool(label)
    return loss / len(rows), correct / len(rows)


def train(run, x_train, y_train, x_val, y_val, steps: int, lr: float, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    weights, bias = [rng.gauss(0, 0.01) for _ in x_train[0]], 0.0
    n = len(x_train)
    final: dict[str, float] = {}
    for step in range(1, steps + 1):
        grad, grad_bias = [0.0] * len(weights), 0.0
        for row, label in zip(x_train, y_train, strict=True):
            error = predict(weights, bias, row) - label
            grad_bias += error
            for j, v in enumerate(row):
                grad[j] += error * v
        weights = [w - lr * g / n for w, g in zip(weights, grad, strict=True)]
        bias -= lr * grad_bias / n
        loss, acc = evaluate(weights, bias, x_train, y_train)
        metrics = {"loss": loss, "acc": acc}
        if step % 10 == 0 or step == steps:
            metrics["val_loss"], metrics["val_acc"] = evaluate(weights, bias, x_val, y_val)
        run.log_metrics(metrics, step=step)
        final.update(metrics)
        if step % 10 == 0 or step == steps:
            print(f"step {step:3d}  loss {loss:.4f}  acc {acc:.3f}  val_acc {metrics['val_acc']:.3f}", file=sys.stderr)
    return final


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ref", help="PROJECT/DATASET@REF of the image set")
    parser.add_argument("--site", required=True, help="the site whose cached copy to read")
    parser.add_argument("--experiment", default="chest-xray-mini")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--result", type=Path, help="write the run id, commit and final metrics here (JSON)")
    args = parser.parse_args()
    project = args.ref.split("/", 1)[0]
    params = {"model": "logistic-regression", "features": f"{POOL}x{POOL} mean pool", "steps": args.steps,
              "lr": args.lr, "seed": args.seed}

    with lakecache.start_run(project=project, experiment=args.experiment, params=params) as run:
        with lakecache.use(args.ref, site=args.site, run=run) as root:
            # The same files in the same order at every site: the split and the results repeat.
            counts = {split: len(lakecache.files(root, f"{split}/*/*.png")) for split in ("train", "val")}
            run.log_params({f"{split}_images": count for split, count in counts.items()})
            train_set = ImageFolder(root / "train", loader=decode, transform=pooled)
            val_set = ImageFolder(root / "val", loader=decode, transform=pooled)
            if train_set.classes != val_set.classes:
                sys.exit(f"train/ has classes {train_set.classes} but val/ has {val_set.classes}")
            run.log_param("classes", ",".join(train_set.classes))
            x_train, y_train = features(train_set)
            x_val, y_val = features(val_set)
        # The pixels are in memory: the lease ends here, training needs the copy no longer.
        scale = standardizer(x_train)
        final = train(run, [scale(r) for r in x_train], y_train, [scale(r) for r in x_val], y_val,
                      args.steps, args.lr, args.seed)
        run_id = run.id

    print(f"run {run_id}: val_acc {final['val_acc']:.3f} on {counts['val']} images "
          f"(chance {max(y_val.count(0), y_val.count(1)) / len(y_val):.3f})", file=sys.stderr)
    if args.result:
        args.result.write_text(json.dumps({"run_id": run_id, "metrics": final, "images": counts}, indent=2))


if __name__ == "__main__":
    main()
