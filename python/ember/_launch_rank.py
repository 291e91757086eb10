"""Runs one rank's script for ``ember.launch``: ``python -m ember._launch_rank script.py args``.

The script runs as ``__main__`` in this process. When it fails (an exception, or a non-zero
``sys.exit``) after the distributed group was set up, every process of the job is stopped
with MPI_Abort, so that no rank waits forever in a collective for the one that left.
"""
import os
import runpy
import sys
import traceback


def main():
    if len(sys.argv) < 2:
        raise SystemExit("usage: python -m ember._launch_rank script.py [args...]")
    # whole lines reach the launcher, so that ranks' output never interleaves within a line
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(line_buffering=True, write_through=False)
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    code = 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as e:
        if e.code is None:
            code = 0
        elif isinstance(e.code, int):
            code = e.code
        else:
            print(e.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    if code != 0:
        sys.stdout.flush()
        sys.stderr.flush()
        core = sys.modules.get("ember.core")
        if core is not None:
            core.distributed._abort(code)
    sys.exit(code)


if __name__ == "__main__":
    main()
