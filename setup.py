"""Build the fastmlp._core extension from csrc/*.c and fastmlp/_core.pyx.

OpenMP is used when the compiler accepts -fopenmp, otherwise the library
builds single-threaded.  No -march=native: the kernels choose their
instruction set at run time (see csrc/cpu.c).
"""
import glob
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup


def compiler_accepts(flag):
    """True if the C compiler used for extensions compiles and links with flag."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write("#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n")
        cmd = cc.split() + [flag, src, "-o", os.path.join(tmp, "probe")]
        try:
            return subprocess.run(cmd, capture_output=True).returncode == 0
        except OSError:
            return False


use_openmp = os.environ.get("FASTMLP_OPENMP", "1") != "0" and compiler_accepts("-fopenmp")
if not use_openmp:
    print("fastmlp: building without OpenMP (single-threaded)", file=sys.stderr)

# The public header ships inside the package for fastmlp.get_include().
os.makedirs("fastmlp/include", exist_ok=True)
shutil.copyfile("csrc/fastmlp.h", "fastmlp/include/fastmlp.h")

c_sources = sorted(glob.glob("csrc/*.c"))
compile_args = ["-O3", "-std=c11", "-D_POSIX_C_SOURCE=200809L"]
link_args = []
if use_openmp:
    compile_args.append("-fopenmp")
    link_args.append("-fopenmp")

ext = Extension(
    "fastmlp._core",
    sources=["fastmlp/_core.pyx"] + c_sources,
    include_dirs=["csrc", numpy.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    extra_compile_args=compile_args,
    extra_link_args=link_args,
    libraries=["m"],
)

setup(
    ext_modules=cythonize(
        [ext],
        compiler_directives={"language_level": 3, "boundscheck": False, "wraparound": False},
    )
)
