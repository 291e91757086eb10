"""Loss functions. Each takes a ``reduction``: ``'none'``, ``'mean'`` or ``'sum'``."""

import math
from typing import Literal, get_args

import ember.core as mx

Reduction = Literal["none", "mean", "sum"]


def _reduce(loss, reduction: Reduction = "none"):
    if reduction == "mean":
        return mx.mean(loss)
    if reduction == "sum":
        return mx.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"Invalid reduction. Must be one of {get_args(Reduction)}.")


def _check_shapes(name, a, b, what=("inputs", "targets")):
    if a.shape != b.shape:
        raise ValueError(f"[{name}] {what[0]} shape {a.shape} does not match {what[1]} shape {b.shape}.")


def _apply_weights(name, loss, weights):
    if weights is None:
        return loss
    if weights.shape != loss.shape:
        raise ValueError(f"[{name}] Weights with shape {weights.shape} are not broadcastable to loss {loss.shape}.")
    return loss * weights


def cross_entropy(
    logits,
    targets,
    weights=None,
    axis: int = -1,
    label_smoothing: float = 0.0,
    reduction: Reduction = "none",
):
    """Cross entropy between ``logits`` and class indices or class probabilities ``targets``.

    With ``label_smoothing`` the target distribution is mixed with the uniform one.
    """
    if label_smoothing < 0 or label_smoothing >= 1:
        raise ValueError(f"Label smoothing must be in [0, 1), got {label_smoothing}.")
    probs = targets.ndim == logits.ndim
    if probs:
        if targets.shape[axis] != logits.shape[axis]:
            raise ValueError(
                f"[cross_entropy] Targets of shape {targets.shape} do not match logits of shape {logits.shape}."
            )
        score = mx.sum(logits * targets, axis=axis)
    else:
        expected = list(logits.shape)
        expected.pop(axis % logits.ndim if logits.ndim else 0)
        if list(targets.shape) != expected:
            raise ValueError(
                f"[cross_entropy] Targets of shape {targets.shape} do not match logits of shape {logits.shape}."
            )
        score = mx.take_along_axis(logits, mx.expand_dims(targets, axis), axis).squeeze(axis)
    lse = mx.logsumexp(logits, axis=axis)
    if label_smoothing > 0:
        loss = lse - (1 - label_smoothing) * score - label_smoothing * mx.mean(logits, axis=axis)
    else:
        loss = lse - score
    loss = _apply_weights("cross_entropy", loss, weights)
    return _reduce(loss, reduction)


def binary_cross_entropy(
    inputs,
    targets,
    weights=None,
    with_logits: bool = True,
    reduction: Reduction = "mean",
):
    """Binary cross entropy of logits (``with_logits``) or probabilities ``inputs`` against ``targets``."""
    _check_shapes("binary_cross_entropy", inputs, targets)
    if with_logits:
        loss = mx.logaddexp(0.0, inputs) - inputs * targets
    else:
        log_p = mx.maximum(mx.log(inputs), -100)
        log_q = mx.maximum(mx.log(1 - inputs), -100)
        loss = -(targets * log_p + (1 - targets) * log_q)
    loss = _apply_weights("binary_cross_entropy", loss, weights)
    return _reduce(loss, reduction)


def l1_loss(predictions, targets, reduction: Reduction = "mean"):
    """Absolute error ``|predictions - targets|``."""
    _check_shapes("l1_loss", predictions, targets, ("Predictions", "targets"))
    return _reduce(mx.abs(predictions - targets), reduction)


def mse_loss(predictions, targets, reduction: Reduction = "mean"):
    """Squared error ``(predictions - targets) ** 2``."""
    _check_shapes("mse_loss", predictions, targets, ("Predictions", "targets"))
    return _reduce(mx.square(predictions - targets), reduction)


def nll_loss(inputs, targets, axis: int = -1, reduction: Reduction = "none"):
    """Negative log likelihood of log-probabilities ``inputs`` at class indices ``targets``."""
    loss = -mx.take_along_axis(inputs, mx.expand_dims(targets, axis), axis).squeeze(axis)
    return _reduce(loss, reduction)


def gaussian_nll_loss(
    inputs,
    targets,
    vars,
    full: bool = False,
    eps: float = 1e-6,
    reduction: Reduction = "mean",
):
    """Negative log likelihood of ``targets`` under Gaussians with means ``inputs`` and variances ``vars``.

    Variances are clamped below at ``eps``; ``full`` adds the constant ``0.5 * log(2 pi)``.
    """
    _check_shapes("gaussian_nll_loss", inputs, targets)
    _check_shapes("gaussian_nll_loss", inputs, vars, ("inputs", "vars"))
    vars = mx.maximum(vars, eps)
    loss = 0.5 * (mx.log(vars) + mx.square(targets - inputs) / vars)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def kl_div_loss(inputs, targets, axis: int = -1, reduction: Reduction = "none"):
    """Kullback-Leibler divergence from log-probabilities ``targets`` to log-probabilities ``inputs``."""
    loss = mx.sum(mx.exp(targets) * (targets - inputs), axis=axis)
    return _reduce(loss, reduction)


def smooth_l1_loss(predictions, targets, beta: float = 1.0, reduction: Reduction = "mean"):
    """``0.5 * d**2 / beta`` where ``d = |predictions - targets| < beta``, else ``d - 0.5 * beta``."""
    _check_shapes("smooth_l1_loss", predictions, targets, ("Predictions", "targets"))
    diff = mx.abs(predictions - targets)
    loss = mx.where(diff < beta, 0.5 * mx.square(diff) / beta, diff - 0.5 * beta)
    return _reduce(loss, reduction)


def triplet_loss(
    anchors,
    positives,
    negatives,
    axis: int = -1,
    p: int = 2,
    margin: float = 1.0,
    eps: float = 1e-6,
    reduction: Reduction = "none",
):
    """``max(dist(a, p) - dist(a, n) + margin, 0)`` with ``dist(x, y) = sqrt(sum((x - y) ** p) + eps)``."""
    pos = mx.sqrt(mx.sum(mx.power(anchors - positives, p), axis=axis) + eps)
    neg = mx.sqrt(mx.sum(mx.power(anchors - negatives, p), axis=axis) + eps)
    return _reduce(mx.maximum(pos - neg + margin, 0), reduction)


def hinge_loss(inputs, targets, reduction: Reduction = "none"):
    """``max(1 - inputs * targets, 0)`` for targets in ``{-1, 1}``."""
    return _reduce(mx.maximum(1 - inputs * targets, 0), reduction)


def huber_loss(inputs, targets, delta: float = 1.0, reduction: Reduction = "none"):
    """Quadratic for errors below ``delta``, linear above."""
    err = mx.abs(inputs - targets)
    quad = mx.minimum(err, delta)
    lin = err - quad
    return _reduce(0.5 * mx.square(quad) + delta * lin, reduction)


def log_cosh_loss(inputs, targets, reduction: Reduction = "none"):
    """``log(cosh(inputs - targets))``, computed stably."""
    err = inputs - targets
    return _reduce(mx.logaddexp(err, -err) - math.log(2), reduction)


def cosine_similarity_loss(x1, x2, axis: int = 1, eps: float = 1e-8, reduction: Reduction = "none"):
    """Cosine similarity ``x1 . x2 / max(|x1| |x2|, eps)`` along ``axis``."""
    n1 = mx.sqrt(mx.sum(mx.square(x1), axis=axis))
    n2 = mx.sqrt(mx.sum(mx.square(x2), axis=axis))
    loss = mx.sum(x1 * x2, axis=axis) / mx.maximum(n1 * n2, eps)
    return _reduce(loss, reduction)


def margin_ranking_loss(inputs1, inputs2, targets, margin: float = 0.0, reduction: Reduction = "none"):
    """``max(0, -targets * (inputs1 - inputs2) + margin)``."""
    if not (inputs1.shape == inputs2.shape == targets.shape):
        raise ValueError(
            f"[margin_ranking_loss] The shapes of the arguments do not match: inputs1 {inputs1.shape}, "
            f"inputs2 {inputs2.shape}, targets {targets.shape}."
        )
    loss = mx.maximum(0, -targets * (inputs1 - inputs2) + margin)
    return _reduce(loss, reduction)
