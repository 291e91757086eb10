"""Command line of the ember package.

    python -m ember --version       the installed version
    python -m ember --info          version, build, BLAS, CPU, GPU and compile's compiler
    python -m ember --cmake-dir     the directory to pass as CMAKE_PREFIX_PATH
    python -m ember --include-dir   the C++ include directory
"""

import argparse
import os


def info_lines():
    import ember
    from ember import core

    b = core._build_info()
    cxx = b["jit_compiler"] or 'none (compile runs unfused; pip install "ember[jit]" or set EMBER_CXX)'
    if not b["cuda"]:
        gpu = "not built (this build runs on the CPU)"
    elif core.cuda.is_available():
        gpu = f"built, {core.device_count(core.gpu)} device(s) seen"
    else:
        gpu = "built, no device seen"
    return [
        f"ember {ember.__version__}",
        f"build type: {b['build_type']}",
        f"package: {os.path.dirname(os.path.abspath(ember.__file__))}",
        f"BLAS: OpenBLAS {b['blas']} (core {b['blas_core']}), {b['blas_threading']}, {b['blas_threads']} threads",
        f"CPU kernels: {b['kernel_isa']}; {b['threads']} threads",
        f"CPU features: {' '.join(b['cpu_features']) or 'baseline'}",
        f"CUDA: {gpu}",
        f"compile's C++ compiler: {cxx}",
        f"kernel cache: {b['kernel_cache']}",
    ]


def main():
    parser = argparse.ArgumentParser(prog="python -m ember")
    parser.add_argument("--version", action="store_true", help="print the version")
    parser.add_argument("--info", action="store_true", help="print the build and run-time set-up")
    parser.add_argument("--cmake-dir", action="store_true", help="print the CMake package directory")
    parser.add_argument("--include-dir", action="store_true", help="print the C++ include directory")
    args = parser.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    if args.version:
        import ember

        print(ember.__version__)
    elif args.info:
        print("\n".join(info_lines()))
    elif args.cmake_dir:
        print(os.path.join(here, "lib", "cmake", "ember"))
    elif args.include_dir:
        print(os.path.join(here, "include"))
    else:
        parser.print_help()


if __name__ == "__main__":
    main()
