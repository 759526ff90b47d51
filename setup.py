"""Build the fastmlp._core extension from csrc/*.c and fastmlp/_core.pyx.

OpenMP is used when the compiler accepts -fopenmp, otherwise the library
builds single-threaded.  No -march=native: the kernels choose their
instruction set at run time (see csrc/cpu.c).

The objects of csrc/*.c are also archived into fastmlp/lib/libfastmlp.a,
which other extensions link to call the C core (fastmlp.get_include(),
get_library_dirs(), get_libraries(), get_link_args()).
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
from setuptools.command.build_ext import build_ext


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
# -fno-math-errno: sqrt and friends vectorise (errno is never read);
# -fno-trapping-math: a comparison may be if-converted (the clamps and
# selects of the vectorised exp, tanh and sigmoid), without which gcc
# keeps those loops scalar below AVX-512 (no FP trap is ever enabled; the
# rounding of every operation is unchanged);
# -ffp-contract=off: no fused multiply-add is formed behind the code's
# back, so every ISA path rounds each element-wise formula the same way.
compile_args = ["-O3", "-std=c11", "-fno-math-errno", "-fno-trapping-math",
                "-ffp-contract=off", "-D_POSIX_C_SOURCE=200809L"]
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
    # the templates and headers the sources include: a change to one
    # rebuilds the extension (setuptools does not scan #include)
    depends=sorted(glob.glob("csrc/*.h")),
)


class build_ext_with_static_lib(build_ext):
    """build_ext, then the C core's objects archived as fastmlp/lib/libfastmlp.a
    next to the built fastmlp/_core (and copied along by --inplace)."""

    def build_extension(self, ext):
        objects = self.compiler.object_filenames(c_sources, output_dir=self.build_temp)
        if not all(os.path.exists(o) for o in objects):
            self.force = True  # an up-to-date _core would leave none to archive
        super().build_extension(ext)
        lib_dir = os.path.join(os.path.dirname(self.get_ext_fullpath(ext.name)), "lib")
        self.static_lib = self.compiler.library_filename("fastmlp", output_dir=lib_dir)
        if os.path.exists(self.static_lib):  # ar adds to an archive: start afresh
            os.remove(self.static_lib)
        self.compiler.create_static_lib(objects, "fastmlp", output_dir=lib_dir)

    def copy_extensions_to_source(self):
        super().copy_extensions_to_source()
        package_dir = self.get_finalized_command("build_py").get_package_dir("fastmlp")
        self.mkpath(os.path.join(package_dir, "lib"))
        self.copy_file(self.static_lib, os.path.join(package_dir, "lib"))


setup(
    cmdclass={"build_ext": build_ext_with_static_lib},
    ext_modules=cythonize(
        [ext],
        compiler_directives={"language_level": 3, "boundscheck": False, "wraparound": False},
    )
)
