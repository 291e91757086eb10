"""python -m ember --cmake-dir prints the directory to pass as CMAKE_PREFIX_PATH."""

import argparse
import os


def main():
    parser = argparse.ArgumentParser(prog="python -m ember")
    parser.add_argument("--cmake-dir", action="store_true", help="print the CMake package directory")
    parser.add_argument("--include-dir", action="store_true", help="print the C++ include directory")
    args = parser.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    if args.cmake_dir:
        print(os.path.join(here, "lib", "cmake", "ember"))
    elif args.include_dir:
        print(os.path.join(here, "include"))
    else:
        parser.print_help()


if __name__ == "__main__":
    main()
