"""``lakecache.torch.ImageFolder``: a class per top-level directory of a view, samples in the view's
order, usable without torch (duck-typed) and by a real ``DataLoader`` where torch is installed."""

from __future__ import annotations

import importlib.util
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from lakecache.torch import ImageFolder, load_image

LAYOUT = ["pneumonia/b/2.png", "normal/1.png", "pneumonia/1.PNG", "normal/10.png", "normal/2.png",
          "pneumonia/notes.txt", "labels.csv", "effusion/x.jpeg"]


def tree(root: Path, paths: list[str] = LAYOUT) -> Path:
    for relative in paths:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(relative.encode())
    return root


def read(path: Path) -> str:
    return path.read_text()


def test_classes_are_the_sorted_top_level_directories(tmp_path):
    data = ImageFolder(tree(tmp_path), loader=read)
    assert data.classes == ["effusion", "normal", "pneumonia"]
    assert data.class_to_idx == {"effusion": 0, "normal": 1, "pneumonia": 2}


def test_samples_go_by_class_then_in_the_views_order_without_stray_files(tmp_path):
    data = ImageFolder(tree(tmp_path), loader=read)
    assert [(p.relative_to(tmp_path).as_posix(), label) for p, label in data.samples] == [
        ("effusion/x.jpeg", 0),
        ("normal/1.png", 1), ("normal/10.png", 1), ("normal/2.png", 1),
        ("pneumonia/1.PNG", 2), ("pneumonia/b/2.png", 2),  # any depth; extensions without case
    ]
    assert data.targets == [0, 1, 1, 1, 2, 2] and len(data) == 6


def test_an_item_is_the_loaded_sample_and_its_label_each_transformed(tmp_path):
    data = ImageFolder(tree(tmp_path), loader=read, transform=str.upper,
                       target_transform=lambda label: ("no", "yes", "yes")[label])
    assert data[1] == ("NORMAL/1.PNG", "yes")
    assert data[-1] == ("PNEUMONIA/B/2.PNG", "yes")
    assert data[0] == ("EFFUSION/X.JPEG", "no")
    with pytest.raises(IndexError):
        data[len(data)]


def test_the_same_tree_gives_the_same_dataset_whatever_order_it_was_written_in(tmp_path):
    one = ImageFolder(tree(tmp_path / "one"), loader=read)
    two = ImageFolder(tree(tmp_path / "two", list(reversed(LAYOUT))), loader=read)
    assert [(p.relative_to(tmp_path / "one"), t) for p, t in one.samples] == \
           [(p.relative_to(tmp_path / "two"), t) for p, t in two.samples]


def test_a_class_directory_without_images_is_refused_by_name(tmp_path):
    tree(tmp_path, ["cat/1.png", "dog/readme.txt"])
    with pytest.raises(FileNotFoundError, match=r"\['dog'\]"):
        ImageFolder(tmp_path, loader=read)
    assert ImageFolder(tmp_path, loader=read, extensions=[".png", ".txt"]).classes == ["cat", "dog"]


def test_a_view_without_class_directories_is_refused(tmp_path):
    tree(tmp_path, ["1.png", "2.png"])
    with pytest.raises(FileNotFoundError, match="one directory per class"):
        ImageFolder(tmp_path, loader=read)


def test_links_add_neither_classes_nor_samples(tmp_path):
    outside = tree(tmp_path / "outside", ["secret/1.png", "2.png"])
    root = tree(tmp_path / "view", ["cat/1.png"])
    (root / "secret").symlink_to(outside / "secret", target_is_directory=True)
    (root / "cat" / "2.png").symlink_to(outside / "2.png")
    data = ImageFolder(root, loader=read)
    assert data.classes == ["cat"] and [p.name for p, _ in data.samples] == ["1.png"]


def test_the_default_loader_decodes_with_pillow_in_the_mode_asked(tmp_path):
    (tmp_path / "a").mkdir()
    Image.new("L", (4, 3), color=200).save(tmp_path / "a" / "gray.png")
    gray, label = ImageFolder(tmp_path, mode="L")[0]
    assert (gray.mode, gray.size, gray.getpixel((0, 0)), label) == ("L", (4, 3), 200, 0)
    rgb, _ = ImageFolder(tmp_path)[0]
    assert (rgb.mode, rgb.getpixel((3, 2))) == ("RGB", (200, 200, 200))
    assert load_image(tmp_path / "a" / "gray.png", mode=None).mode == "L"


def test_the_default_loader_refuses_a_link_put_in_place_of_an_image(tmp_path):
    (tmp_path / "a").mkdir()
    Image.new("L", (2, 2)).save(tmp_path / "a" / "1.png")
    data = ImageFolder(tmp_path)
    Image.new("L", (2, 2)).save(tmp_path / "elsewhere.png")
    (tmp_path / "a" / "1.png").unlink()
    (tmp_path / "a" / "1.png").symlink_to(tmp_path / "elsewhere.png")
    with pytest.raises(OSError):
        data[0]


def test_the_dataset_pickles_for_spawned_workers(tmp_path):
    (tmp_path / "a").mkdir()
    Image.new("L", (2, 2), color=9).save(tmp_path / "a" / "1.png")
    copy = pickle.loads(pickle.dumps(ImageFolder(tmp_path, mode="L")))
    assert copy[0][0].getpixel((1, 1)) == 9 and copy.classes == ["a"]


def test_importing_lakecache_torch_loads_neither_torch_nor_pillow():
    code = ("import sys, lakecache.torch; "
            "print(sorted(m for m in ('torch', 'PIL', 'numpy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr


@pytest.mark.filterwarnings("ignore:Failed to initialize NumPy")  # torch without numpy: nothing here needs it
def test_a_torch_dataloader_batches_tensors_and_labels(tmp_path):
    if importlib.util.find_spec("torch") is None:
        reason = ("torch is not installed: it comes with the optional extra lakecache[torch] (about 4 GB with its "
                  "CUDA libraries); scripts/test installs it (uv sync --group torch)")
        if os.environ.get("CI") == "true":  # scripts/test installs it: missing in CI is a broken set-up
            pytest.fail(reason)
        pytest.skip(reason)
    import torch
    from torch.utils.data import DataLoader

    from lakecache.torch import to_tensor

    for name, shade in (("normal", 40), ("pneumonia", 220)):
        (tmp_path / name).mkdir()
        for i in range(5):
            Image.new("L", (8, 6), color=shade + i).save(tmp_path / name / f"{i}.png")
    data = ImageFolder(tmp_path, mode="L", transform=to_tensor)
    batches = list(DataLoader(data, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0)))
    assert [len(labels) for _, labels in batches] == [4, 4, 2]
    images = torch.cat([b for b, _ in batches])
    labels = torch.cat([lab for _, lab in batches])
    assert images.shape == (10, 1, 6, 8) and images.dtype == torch.float32
    assert sorted(labels.tolist()) == [0] * 5 + [1] * 5
    # Each image carries its class's shade: the labels travel with their own samples.
    means = images.mean(dim=(1, 2, 3))
    assert bool(((means > 0.5) == (labels == 1)).all())
    first, _ = data[0]
    assert torch.allclose(first, torch.full((1, 6, 8), 40 / 255))
    rgb = to_tensor(Image.new("RGB", (2, 1), color=(255, 0, 51)))
    assert rgb.shape == (3, 1, 2) and rgb[:, 0, 0].tolist() == pytest.approx([1.0, 0.0, 0.2])
    with pytest.raises(ValueError, match="8-bit"):
        to_tensor(Image.new("I;16", (2, 2)))


def test_without_pillow_the_default_loader_says_what_to_install(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "1.png").write_bytes(b"not decoded")
    monkeypatch.setitem(sys.modules, "PIL", None)  # as if Pillow were not installed
    data = ImageFolder(tmp_path)  # indexing needs no decoder
    assert len(data) == 1
    with pytest.raises(ImportError, match=r"lakecache\[torch\]"):
        data[0]

