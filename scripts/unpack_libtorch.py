"""Unpacks the minimal CPU libtorch tree from the PyPI wheels (see scripts/setup.sh)."""
import os
import subprocess
import sys
import zipfile

dest, torch_whl, cudart_whl, cupti_whl = sys.argv[1:5]
KEEP_LIBS = ("libtorch_cpu.so", "libc10.so", "libgomp")

with zipfile.ZipFile(torch_whl) as z:
    for info in z.infolist():
        n = info.filename
        if n.startswith("torch/include/") or (
            n.startswith("torch/lib/") and os.path.basename(n).startswith(KEEP_LIBS)
        ):
            z.extract(info, dest)

lib = os.path.join(dest, "torch", "lib")
for f in os.listdir(lib):
    os.chmod(os.path.join(lib, f), 0o755)
    if f.startswith("libgomp") and f != "libgomp.so":
        os.symlink(f, os.path.join(lib, "libgomp.so"))
# An empty libtorch.so: the wheel's real one NEEDs the CUDA library, which a CPU tree leaves out.
subprocess.run(
    ["cc", "-shared", "-fPIC", "-Wl,-soname,libtorch.so", "-o", os.path.join(lib, "libtorch.so"), "-x", "c", "/dev/null"],
    check=True,
)

cu = os.path.join(dest, "nvidia", "cu13", "lib")
os.makedirs(cu, exist_ok=True)
for whl in (cudart_whl, cupti_whl):
    with zipfile.ZipFile(whl) as z:
        for info in z.infolist():
            base = os.path.basename(info.filename)
            if base.startswith(("libcudart.so.13", "libcupti.so.13")):
                with z.open(info) as src, open(os.path.join(cu, base), "wb") as out:
                    out.write(src.read())
                os.chmod(os.path.join(cu, base), 0o755)
