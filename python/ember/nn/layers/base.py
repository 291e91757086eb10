"""The Module class: a dict of parameters (arrays) and child modules."""

import textwrap
from typing import Any, Callable, List, Optional, Union

import ember.core as mx
from ember.utils import tree_flatten, tree_unflatten

_FLOATING = None


def _is_floating(dtype):
    global _FLOATING
    if _FLOATING is None:
        _FLOATING = {mx.float16, mx.bfloat16, mx.float32, mx.float64}
    return dtype in _FLOATING


def _unwrap(model, value_key, value, filter_fn, map_fn, is_leaf_fn):
    """Walk ``value`` (found under ``value_key`` in ``model``) keeping what ``filter_fn`` accepts."""
    if is_leaf_fn(model, value_key, value):
        return map_fn(value)
    if isinstance(value, Module):
        return {
            k: _unwrap(value, k, v, filter_fn, map_fn, is_leaf_fn)
            for k, v in value.items()
            if filter_fn(value, k, v)
        }
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = f"{value_key}.{k}"
            out[k] = _unwrap(model, key, v, filter_fn, map_fn, is_leaf_fn) if filter_fn(model, key, v) else {}
        return out
    if isinstance(value, list):
        out = []
        for i, v in enumerate(value):
            key = f"{value_key}.{i}"
            out.append(_unwrap(model, key, v, filter_fn, map_fn, is_leaf_fn) if filter_fn(model, key, v) else {})
        return out
    raise RuntimeError("Unexpected leaf found while traversing the module")


class Module(dict):
    """Base class for layers and models.

    A module is a ``dict``: attributes holding arrays, dicts, lists or tuples are
    stored as items, so the parameters and sub-modules form a tree that the
    transformations (``grad``, ``compile``) and the optimizers can walk.
    """

    __call__: Callable

    def __init__(self):
        self._no_grad = set()
        self._training = True

    @property
    def training(self):
        """Whether the module is in training mode."""
        return self._training

    @property
    def state(self):
        """The module's whole state: parameters, buffers and anything stored as an item."""
        return self

    def _extra_repr(self):
        return ""

    def __repr__(self):
        children = tree_flatten(self.children(), is_leaf=self.is_module)
        text = f"{type(self).__name__}({self._extra_repr()}"
        for key, child in children:
            text += "\n" + textwrap.indent(f"({key}): {child!r}", prefix="  ")
        if children:
            text += "\n"
        return text + ")"

    def __getattr__(self, key: str):
        if key in self:
            return self[key]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {key!r}")

    def __setattr__(self, key: str, val: Any):
        if isinstance(val, (mx.array, dict, list, tuple)):
            if key in self.__dict__:
                object.__delattr__(self, key)
            self[key] = val
        else:
            if key in self:
                del self[key]
            super().__setattr__(key, val)

    def __delattr__(self, key):
        if key in self:
            del self[key]
        else:
            super().__delattr__(key)

    # ------------------------------------------------------------------ trees

    @staticmethod
    def is_module(value):
        return isinstance(value, Module)

    @staticmethod
    def valid_child_filter(module, key, value):
        return isinstance(value, (dict, list))

    @staticmethod
    def valid_parameter_filter(module, key, value):
        return isinstance(value, (dict, list, mx.array)) and not key.startswith("_")

    @staticmethod
    def trainable_parameter_filter(module, key, value):
        return Module.valid_parameter_filter(module, key, value) and key not in module._no_grad

    def filter_and_map(
        self,
        filter_fn: Callable[["Module", str, Any], bool],
        map_fn: Optional[Callable] = None,
        is_leaf_fn: Optional[Callable[["Module", str, Any], bool]] = None,
    ):
        """Walk the module tree keeping the values ``filter_fn`` accepts, mapping leaves with ``map_fn``."""
        if map_fn is None:
            map_fn = _identity
        if is_leaf_fn is None:
            is_leaf_fn = _default_is_leaf
        return {
            k: _unwrap(self, k, v, filter_fn, map_fn, is_leaf_fn) for k, v in self.items() if filter_fn(self, k, v)
        }

    def parameters(self):
        """All the arrays of the module and its children, as a nested dict."""
        return self.filter_and_map(self.valid_parameter_filter)

    def trainable_parameters(self):
        """The parameters that are not frozen."""
        return self.filter_and_map(self.trainable_parameter_filter)

    def children(self):
        """The direct sub-modules (inside dicts and lists too)."""
        return self.filter_and_map(self.valid_child_filter, is_leaf_fn=lambda m, k, v: isinstance(v, Module))

    def leaf_modules(self):
        """The sub-modules that have no sub-modules of their own."""

        def is_leaf_module(m, k, v):
            return isinstance(v, Module) and len(tree_flatten(v.children())) == 0

        return self.filter_and_map(self.valid_child_filter, is_leaf_fn=is_leaf_module)

    def named_modules(self):
        """``(dotted_name, module)`` for this module (named ``""``) and every module below it."""
        found = []
        stack = [("", self)]
        while stack:
            name, module = stack.pop()
            found.append((name, module))
            prefix = "." + name if name else ""  # tree_flatten drops the prefix's first character
            stack.extend(tree_flatten(module.children(), prefix=prefix, is_leaf=self.is_module))
        return found

    def modules(self):
        """This module and every module below it."""
        return [m for _, m in self.named_modules()]

    # ------------------------------------------------------------------ updates

    def update(self, parameters: dict, strict: bool = True) -> "Module":
        """Replace the arrays of the module with those in ``parameters`` (a nested dict).

        With ``strict`` every key must name an existing parameter and every value must be an array.
        """

        def check_leaf(old, new, path):
            if strict and not isinstance(new, mx.array):
                raise ValueError(f"Received invalid type: {type(new).__name__}.")

        def visit(dst, src, path):
            if isinstance(src, dict):
                for k, new in src.items():
                    where = f"{path}{k}"
                    if k in dst:
                        old = dst[k]
                        if isinstance(old, mx.array):
                            check_leaf(old, new, where)
                            dst[k] = new
                        else:
                            visit(old, new, where + ".")
                    elif strict:
                        raise ValueError(f'Module does not have parameter named "{where}".')
            elif isinstance(src, list):
                for i, new in enumerate(src):
                    where = f"{path}{i}"
                    if i >= len(dst):
                        if strict:
                            raise ValueError(f'Module does not have parameter named "{where}".')
                        continue
                    old = dst[i]
                    if isinstance(old, mx.array):
                        check_leaf(old, new, where)
                        dst[i] = new
                    else:
                        visit(old, new, where + ".")
            elif strict:
                raise ValueError(f"Received invalid type: {type(src).__name__}.")

        visit(self, parameters, "")
        return self

    def update_modules(self, modules: dict, strict: bool = True) -> "Module":
        """Replace sub-modules with those in ``modules`` (a nested dict like :meth:`children`)."""

        def visit(dst, src, path):
            if isinstance(src, dict):
                items = src.items()
            elif isinstance(src, list):
                items = enumerate(src)
            else:
                if strict:
                    raise ValueError(f"Received invalid type: {type(src).__name__}.")
                return
            for k, new in items:
                where = f"{path}{k}"
                present = (k in dst) if isinstance(dst, dict) else (isinstance(k, int) and k < len(dst))
                if not present:
                    if strict:
                        raise ValueError(f'Module does not have sub-module named "{where}".')
                    continue
                old = dst[k]
                if isinstance(old, Module) and isinstance(new, Module):
                    dst[k] = new
                elif isinstance(old, (dict, list)):
                    visit(old, new, where + ".")
                elif strict and new != {}:
                    raise ValueError(f"Received invalid type: {type(new).__name__}.")

        visit(self, modules, "")
        return self

    def apply(
        self,
        map_fn: Callable[[mx.array], mx.array],
        filter_fn: Optional[Callable[["Module", str, Any], bool]] = None,
    ) -> "Module":
        """Map the parameters (or the values ``filter_fn`` selects) with ``map_fn`` in place."""
        filter_fn = filter_fn or self.valid_parameter_filter
        self.update(self.filter_and_map(filter_fn, map_fn), strict=False)
        return self

    def apply_to_modules(self, apply_fn: Callable[[str, "Module"], Any]) -> "Module":
        """Call ``apply_fn(name, module)`` on this module and every module below it."""
        stack = [("", self)]
        while stack:
            name, module = stack.pop()
            apply_fn(name, module)
            prefix = "." + name if name else ""  # tree_flatten drops the prefix's first character
            stack.extend(tree_flatten(module.children(), prefix=prefix, is_leaf=self.is_module))
        return self

    # ------------------------------------------------------------------ freezing

    def _validate_keys(self, keys, strict):
        keys = keys if isinstance(keys, list) else [keys]
        if strict:
            for k in keys:
                if k not in self:
                    raise KeyError(f"Module doesn't contain member {k}.")
        return keys

    def freeze(
        self,
        *,
        recurse: bool = True,
        keys: Optional[Union[str, List[str]]] = None,
        strict: bool = False,
    ) -> "Module":
        """Exclude parameters from :meth:`trainable_parameters` (all, or those named in ``keys``)."""

        def freeze_one(_, module):
            local = keys
            if local is None:
                local = [
                    k
                    for k, _ in tree_flatten(
                        module.filter_and_map(
                            lambda m, k, v: not isinstance(v, Module) and m.valid_parameter_filter(m, k, v)
                        )
                    )
                ]
            module._no_grad.update(local)

        if keys is not None:
            keys = self._validate_keys(keys, strict)
        if recurse:
            self.apply_to_modules(freeze_one)
        else:
            freeze_one("", self)
        return self

    def unfreeze(
        self,
        *,
        recurse: bool = True,
        keys: Optional[Union[str, List[str]]] = None,
        strict: bool = False,
    ) -> "Module":
        """Undo :meth:`freeze` (for all parameters, or those named in ``keys``)."""

        def unfreeze_one(_, module):
            if keys is None:
                module._no_grad.clear()
            else:
                module._no_grad.difference_update(keys)

        if keys is not None:
            keys = self._validate_keys(keys, strict)
        if recurse:
            self.apply_to_modules(unfreeze_one)
        else:
            unfreeze_one("", self)
        return self

    # ------------------------------------------------------------------ modes, dtypes

    def _set_training_mode(self, mode: bool):
        self._training = mode

    def train(self, mode: bool = True) -> "Module":
        """Set training mode (``mode=True``) or evaluation mode on every module."""
        self.apply_to_modules(lambda _, m: m._set_training_mode(mode))
        return self

    def eval(self) -> "Module":
        """Set evaluation mode on every module."""
        return self.train(False)

    def set_dtype(self, dtype, predicate: Optional[Callable] = _is_floating):
        """Cast the parameters whose dtype ``predicate`` accepts (floating ones by default) to ``dtype``."""
        if predicate is None:
            self.apply(lambda x: x.astype(dtype))
        else:
            self.apply(lambda x: x.astype(dtype) if predicate(x.dtype) else x)

    # ------------------------------------------------------------------ files

    def save_weights(self, file: str):
        """Save the parameters to ``file`` (``.npz`` or ``.safetensors``)."""
        params = dict(tree_flatten(self.parameters()))
        if file.endswith(".npz"):
            mx.savez(file, **params)
        elif file.endswith(".safetensors"):
            mx.save_safetensors(file, params)
        else:
            raise ValueError(f"Unsupported file extension for {file}. Use '.npz' or '.safetensors'.")

    def load_weights(self, file_or_weights, strict: bool = True) -> "Module":
        """Load parameters from a ``.npz`` / ``.safetensors`` file or a list of ``(name, array)`` pairs.

        With ``strict`` the names and shapes must match the model's parameters exactly.
        """
        weights = file_or_weights
        if isinstance(weights, str):
            weights = list(mx.load(weights).items())
        elif isinstance(weights, dict):
            weights = list(weights.items())
        if strict:
            new = dict(weights)
            current = dict(tree_flatten(self.parameters()))
            extras = new.keys() - current.keys()
            if extras:
                listed = ",\n".join(sorted(extras))
                raise ValueError(f"Received {len(extras)} parameters not in model: \n{listed}.")
            missing = current.keys() - new.keys()
            if missing:
                listed = ",\n".join(sorted(missing))
                raise ValueError(f"Missing {len(missing)} parameters: \n{listed}.")
            for k, v in current.items():
                w = new[k]
                if not isinstance(w, mx.array):
                    raise ValueError(f"Expected mx.array but received {type(w)} for parameter {k}")
                if w.shape != v.shape:
                    raise ValueError(f"Expected shape {v.shape} but received shape {w.shape} for parameter {k}")
        if len(weights) != 0:
            self.update(tree_unflatten(weights), strict=False)
        return self


def _identity(x):
    return x


def _default_is_leaf(module, key, value):
    return not isinstance(value, (Module, dict, list))
