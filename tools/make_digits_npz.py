"""Build minigrad/data/digits.npz from the digits CSV that scikit-learn ships.

The data is the UCI "Optical Recognition of Handwritten Digits" set (Alpaydin & Kaynak,
1998; CC BY 4.0): 1797 images of 8x8 pixels, each pixel a count 0..16. We store it as
uint8 so the packaged file stays small (about 45 kB) and loads without scikit-learn.

    python tools/make_digits_npz.py /path/to/scikit_learn-*.whl      # or a digits.csv.gz

The output is byte-for-byte reproducible: fixed zip timestamps, fixed member order.
"""

import argparse
import gzip
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

CSV_IN_WHEEL = "sklearn/datasets/data/digits.csv.gz"
OUT = Path(__file__).resolve().parent.parent / "minigrad" / "data" / "digits.npz"


def read_csv_gz(source: Path) -> bytes:
    """The gzipped CSV, from a scikit-learn wheel (a zip) or given directly."""
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as wheel:
            return wheel.read(CSV_IN_WHEEL)
    return source.read_bytes()


def parse(csv_gz: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Rows of 64 pixel counts then the label -> uint8 images (N, 8, 8), uint8 labels (N,)."""
    table = np.loadtxt(io.BytesIO(gzip.decompress(csv_gz)), delimiter=",", dtype=np.int64)
    if table.shape != (1797, 65):
        raise ValueError(f"expected 1797 rows of 65 values, got {table.shape}")
    pixels, labels = table[:, :64], table[:, 64]
    # Check the ranges before narrowing to uint8, so a bad input cannot wrap around silently.
    if pixels.min() < 0 or pixels.max() > 16 or labels.min() < 0 or labels.max() > 9:
        raise ValueError("pixel values must lie in 0..16 and labels in 0..9")
    return pixels.reshape(-1, 8, 8).astype(np.uint8), labels.astype(np.uint8)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like np.savez_compressed, but with fixed timestamps so reruns give identical bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w") as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="scikit-learn wheel or digits.csv.gz")
    parser.add_argument("--out", type=Path, default=OUT, help=f"output file (default {OUT})")
    args = parser.parse_args(argv)
    images, labels = parse(read_csv_gz(args.source))
    write_npz(args.out, {"images": images, "labels": labels})
    print(f"wrote {args.out}: images {images.shape} uint8, labels {labels.shape} uint8, "
          f"pixel sum {int(images.sum(dtype=np.int64))}", file=sys.stderr)


if __name__ == "__main__":
    main()
