"""Utilities for nested containers ("trees") of arrays: lists, tuples and dicts.

Tuple subclasses keep their type: a NamedTuple comes back as the same NamedTuple.
"""

from collections import defaultdict


def _is_container(x):
    return isinstance(x, (list, tuple, dict))


def _rebuild(like, children):
    """A list or tuple of ``like``'s type holding ``children``."""
    if isinstance(like, tuple) and hasattr(type(like), "_fields"):
        return type(like)(*children)
    return type(like)(children)


def tree_map(fn, tree, *rest, is_leaf=None):
    """Apply ``fn`` to the leaves of ``tree`` (and the matching leaves of ``rest``).

    The result has the structure of ``tree``. The trees in ``rest`` must contain
    ``tree``'s structure as a prefix.
    """
    if is_leaf is not None and is_leaf(tree):
        return fn(tree, *rest)
    if isinstance(tree, (list, tuple)):
        children = [tree_map(fn, child, *[r[i] for r in rest], is_leaf=is_leaf) for i, child in enumerate(tree)]
        return _rebuild(tree, children)
    if isinstance(tree, dict):
        return {k: tree_map(fn, child, *[r[k] for r in rest], is_leaf=is_leaf) for k, child in tree.items()}
    return fn(tree, *rest)


def tree_map_with_path(fn, tree, *rest, is_leaf=None, path=None):
    """Like :func:`tree_map` but ``fn`` also receives the leaf's dotted path first."""

    def join(key):
        return str(key) if path is None else f"{path}.{key}"

    if is_leaf is not None and is_leaf(tree):
        return fn(path, tree, *rest)
    if isinstance(tree, (list, tuple)):
        children = [
            tree_map_with_path(fn, child, *[r[i] for r in rest], is_leaf=is_leaf, path=join(i))
            for i, child in enumerate(tree)
        ]
        return _rebuild(tree, children)
    if isinstance(tree, dict):
        return {
            k: tree_map_with_path(fn, child, *[r[k] for r in rest], is_leaf=is_leaf, path=join(k))
            for k, child in tree.items()
        }
    return fn(path, tree, *rest)


def tree_flatten(tree, prefix="", is_leaf=None, destination=None):
    """Flatten ``tree`` into a list of ``(dotted_path, leaf)`` pairs.

    ``tree_flatten([[1, 2], {"a": 3}])`` is ``[("0.0", 1), ("0.1", 2), ("1.a", 3)]``. The first
    character of ``prefix`` is dropped: ``prefix=".w"`` gives ``"w.0.0"``, ...
    With ``destination`` (a list or dict) the pairs are added to it instead.
    """
    out = []

    # As in MLX, the keys are the prefix joined to the path with dots, less their first
    # character: prefix=".model" gives "model.0.w", prefix="" gives "0.w".
    def visit(node, path):
        if (is_leaf is None or not is_leaf(node)) and _is_container(node):
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for k, child in items:
                visit(child, f"{path}.{k}")
        else:
            out.append((path[1:], node))

    visit(tree, prefix)
    if destination is None:
        return out
    if isinstance(destination, dict):
        destination.update(out)
    else:
        destination.extend(out)
    return destination


def tree_unflatten(tree):
    """Rebuild a nested structure from ``(dotted_path, value)`` pairs or a flat dict.

    Path components that are all integers become lists, others dicts.
    """
    items = list(tree.items()) if isinstance(tree, dict) else list(tree)
    if len(items) == 1 and items[0][0] == "":
        return items[0][1]
    groups = defaultdict(list)
    order = []
    for key, value in items:
        head, _, tail = key.partition(".")
        if head not in groups:
            order.append(head)
        groups[head].append((tail, value))
    if not order:
        return []
    if all(k.isdigit() and str(int(k)) == k for k in order):
        # Indices with no entries (a parameterless layer of a Sequential) stay empty dicts.
        result = [{} for _ in range(max(int(k) for k in order) + 1)]
        for k in order:
            result[int(k)] = tree_unflatten(groups[k])
        return result
    return {k: tree_unflatten(groups[k]) for k in order}


def tree_reduce(fn, tree, initializer=None, is_leaf=None):
    """Reduce the leaves of ``tree`` with ``fn(accumulator, leaf)``."""
    acc = initializer
    first = initializer is None
    for _, leaf in tree_flatten(tree, is_leaf=is_leaf):
        if first:
            acc, first = leaf, False
        else:
            acc = fn(acc, leaf)
    return acc


def tree_merge(tree_a, tree_b, merge_fn=None):
    """Merge two trees. Where both have a leaf, ``merge_fn(a, b)`` decides (an error
    without one); ``None`` or empty containers give way to the other tree."""
    if tree_a is None or (_is_container(tree_a) and len(tree_a) == 0):
        return tree_b
    if tree_b is None or (_is_container(tree_b) and len(tree_b) == 0):
        return tree_a
    if isinstance(tree_a, dict) and isinstance(tree_b, dict):
        keys = list(tree_a) + [k for k in tree_b if k not in tree_a]
        return {k: tree_merge(tree_a.get(k), tree_b.get(k), merge_fn) for k in keys}
    if isinstance(tree_a, (list, tuple)) and isinstance(tree_b, (list, tuple)):
        n = max(len(tree_a), len(tree_b))
        merged = [
            tree_merge(tree_a[i] if i < len(tree_a) else None, tree_b[i] if i < len(tree_b) else None, merge_fn)
            for i in range(n)
        ]
        return _rebuild(tree_a, merged)
    if _is_container(tree_a) != _is_container(tree_b):
        raise ValueError("[tree_merge] Cannot merge a container with a leaf.")
    if merge_fn is None:
        raise ValueError("[tree_merge] Both trees have a leaf at the same place; pass merge_fn.")
    return merge_fn(tree_a, tree_b)
