"""The expression language of case files.

An expression is parsed with :mod:`ast`, checked against a whitelist of nodes
and functions, and compiled once into a tree of closures over an array
namespace (``ops``: NumPy, PyTorch or JAX). Nothing is ever passed to
``eval``.

Compiled expressions are batch-polymorphic: evaluated with ``batch=k``, every
array carries one leading batch axis of length k and every function acts on the
trailing (core) axes, so ``.T``, ``trace``, ``sum``, ``@`` and the rest mean the
same thing for one point and for k points at once. This is what lets the
engine evaluate many perturbed points in one call.
"""
from __future__ import annotations

import ast
import difflib
import math
import operator
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from .errors import ExpressionError

# name -> (minimum positional args, maximum positional args, keywords accepted)
_REDUCE_KW = frozenset({"axis", "keepdims"})
FUNCTIONS: dict[str, tuple[int, int, frozenset[str]]] = {
    **{f: (1, 2, _REDUCE_KW) for f in ("sum", "mean", "prod", "max", "min", "norm", "logsumexp")},
    "softmax": (1, 2, frozenset({"axis"})),
    **{f: (1, 1, frozenset()) for f in (
        "abs", "sqrt", "exp", "log", "log1p", "expm1", "sin", "cos", "tan", "tanh", "sinh",
        "cosh", "arctan", "sigmoid", "relu", "softplus", "trace", "det", "logdet", "inv",
        "diag", "ones_like", "zeros_like", "cholesky", "real", "imag", "conj")},
    "transpose": (1, 1, frozenset()),
    "maximum": (2, 2, frozenset()), "minimum": (2, 2, frozenset()),
    "solve": (2, 2, frozenset()), "outer": (2, 2, frozenset()), "kron": (2, 2, frozenset()),
    "reshape": (2, 2, frozenset()),
    "eye": (1, 1, frozenset()), "ones": (1, 1, frozenset()), "zeros": (1, 1, frozenset()),
}
ELEMENTWISE = ("abs", "sqrt", "exp", "log", "log1p", "expm1", "sin", "cos", "tan", "tanh",
               "sinh", "cosh", "arctan", "sigmoid", "relu", "softplus", "real", "imag", "conj")
# Functions whose derivative is not that of an analytic continuation: the
# complex step would silently return a wrong Jacobian through them.
NOT_COMPLEX_SAFE = frozenset({"abs", "max", "min", "maximum", "minimum", "relu", "logdet",
                              "cholesky", "real", "imag", "conj"})
_FOLD: dict[str, Callable[[float], float]] = {
    "abs": abs, "sqrt": math.sqrt, "exp": math.exp, "log": math.log, "log1p": math.log1p,
    "expm1": math.expm1, "sin": math.sin, "cos": math.cos, "tan": math.tan,
    "tanh": math.tanh, "sinh": math.sinh, "cosh": math.cosh, "arctan": math.atan}

_NODE_NAMES = {
    ast.Lambda: "a lambda", ast.ListComp: "a comprehension", ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension", ast.GeneratorExp: "a generator expression",
    ast.Compare: "a comparison", ast.BoolOp: "'and'/'or'", ast.IfExp: "a conditional expression",
    ast.Dict: "a dict literal", ast.Set: "a set literal", ast.Starred: "a starred argument",
    ast.NamedExpr: "an assignment expression", ast.JoinedStr: "an f-string",
    ast.Await: "await", ast.Yield: "yield",
}


class Context:
    """What one evaluation needs: values by name, the ops, batch axes and dtype."""

    __slots__ = ("env", "ops", "nb", "k", "dtype")

    def __init__(self, env: Mapping[str, Any], ops: Any, k: int | None, dtype: Any) -> None:
        self.env = env
        self.ops = ops
        self.nb = 0 if k is None else 1
        self.k = k
        self.dtype = dtype


Node = Callable[[Context], Any]


def _core_ndim(ctx: Context, a: Any) -> int:
    # A number (a constant argument) has no axes, batched or not.
    return a.ndim - ctx.nb if hasattr(a, "ndim") else 0


def _is_number(a: Any) -> bool:
    return isinstance(a, (int, float))


def _align(ctx: Context, a: Any, b: Any) -> tuple[Any, Any]:
    # With a batch axis, (k,) + (2,) and (k,) + (2, 2) only broadcast as NumPy
    # would without it once the lower-rank core gets axes after the batch axis.
    if ctx.nb == 0 or _is_number(a) or _is_number(b):
        return a, b
    ra, rb = _core_ndim(ctx, a), _core_ndim(ctx, b)
    if ra < rb:
        a = a[(slice(None),) + (None,) * (rb - ra)]
    elif rb < ra:
        b = b[(slice(None),) + (None,) * (ra - rb)]
    return a, b


def _axes(ctx: Context, a: Any, axis: Any) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ctx.nb, a.ndim))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return tuple(ax + ctx.nb if ax >= 0 else ax for ax in axes)


def _count(a: Any, axes: tuple[int, ...]) -> int:
    return int(np.prod([a.shape[ax] for ax in axes], dtype=np.int64)) if axes else 1


def _transpose(ctx: Context, a: Any) -> Any:
    r = _core_ndim(ctx, a)
    if r < 2:
        return a
    perm = tuple(range(ctx.nb)) + tuple(ctx.nb + r - 1 - i for i in range(r))
    return ctx.ops.transpose(a, perm)


def _matmul(ctx: Context, a: Any, b: Any) -> Any:
    ops = ctx.ops
    ra, rb = _core_ndim(ctx, a), _core_ndim(ctx, b)
    if ra == 0 or rb == 0:
        raise ValueError("'@' needs operands of rank 1 or more; use '*' for a scalar")
    if ra == 1 and rb == 1:
        a, b = _align(ctx, a, b)
        return ops.sum(a * b, (a.ndim - 1,), False)
    if ra == 1:
        return ops.matmul(a[..., None, :], b)[..., 0, :]
    if rb == 1:
        return ops.matmul(a, b[..., :, None])[..., 0]
    return ops.matmul(a, b)


def _constant_array(ctx: Context, make: Callable[[], Any]) -> Any:
    a = make()
    if ctx.nb:
        a = ctx.ops.broadcast_to(a[None], (ctx.k,) + tuple(a.shape))
    return a


def _diag(ctx: Context, a: Any) -> Any:
    r = _core_ndim(ctx, a)
    if r == 1:
        n = a.shape[-1]
        return a[..., :, None] * ctx.ops.eye(n, ctx.dtype)
    if r == 2:
        return ctx.ops.diagonal(a)
    raise ValueError(f"diag needs a vector or a matrix, not an array of rank {r}")


def _outer(ctx: Context, a: Any, b: Any) -> Any:
    batch = tuple(a.shape[:ctx.nb])
    a = ctx.ops.reshape(a, batch + (-1,))
    b = ctx.ops.reshape(b, tuple(b.shape[:ctx.nb]) + (-1,))
    return a[..., :, None] * b[..., None, :]


def _kron(ctx: Context, a: Any, b: Any) -> Any:
    ra, rb = _core_ndim(ctx, a), _core_ndim(ctx, b)
    if ra > 2 or rb > 2 or ra == 0 or rb == 0:
        raise ValueError("kron needs vectors or matrices")
    batch = tuple(a.shape[:ctx.nb])
    if ra == 1 and rb == 1:
        return ctx.ops.reshape(_outer(ctx, a, b), batch + (-1,))
    if ra == 1:
        a = a[..., None, :]
    if rb == 1:
        b = b[..., None, :]
    (m, n), (p, q) = a.shape[-2:], b.shape[-2:]
    prod = a[..., :, None, :, None] * b[..., None, :, None, :]
    return ctx.ops.reshape(prod, batch + (m * p, n * q))


def _solve(ctx: Context, a: Any, b: Any) -> Any:
    if _core_ndim(ctx, b) == 1:
        return ctx.ops.solve(a, b[..., :, None])[..., 0]
    return ctx.ops.solve(a, b)


def _logsumexp(ctx: Context, a: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    ops = ctx.ops
    # Shift by the max (a constant for differentiation) for overflow safety.
    shift = ops.stop_gradient(ops.amax(ops.real(a), axes, True))
    out = ops.log(ops.sum(ops.exp(a - shift), axes, True)) + shift
    return out if keepdims else ops.squeeze(out, axes)


def _reduction(name: str) -> Callable[..., Any]:
    def run(ctx: Context, a: Any, axis: Any = None, keepdims: bool = False) -> Any:
        ops = ctx.ops
        axes = _axes(ctx, a, axis)
        if name == "sum":
            return ops.sum(a, axes, keepdims)
        if name == "mean":
            return ops.sum(a, axes, keepdims) / _count(a, axes)
        if name == "prod":
            return ops.prod(a, axes, keepdims)
        if name == "max":
            return ops.amax(a, axes, keepdims)
        if name == "min":
            return -ops.amax(-a, axes, keepdims)
        if name == "norm":
            return ops.sqrt(ops.sum(a * a, axes, keepdims))
        if name == "logsumexp":
            return _logsumexp(ctx, a, axes, keepdims)
        raise AssertionError(name)
    return run


def _softmax(ctx: Context, a: Any, axis: Any = None) -> Any:
    axes = _axes(ctx, a, axis)
    return ctx.ops.exp(a - _logsumexp(ctx, a, axes, True))


def _logdet(ctx: Context, a: Any) -> Any:
    sign, logabs = ctx.ops.slogdet(a)
    # log(det) of a matrix with det <= 0 is not real: NaN, which the engine flags.
    return ctx.ops.where(sign > 0, logabs, float("nan"))


def _trace(ctx: Context, a: Any) -> Any:
    if _core_ndim(ctx, a) != 2:
        raise ValueError("trace needs a matrix")
    d = ctx.ops.diagonal(a)
    return ctx.ops.sum(d, (d.ndim - 1,), False)


def _square_op(name: str) -> Callable[[Context, Any], Any]:
    def run(ctx: Context, a: Any) -> Any:
        if _core_ndim(ctx, a) != 2 or a.shape[-1] != a.shape[-2]:
            raise ValueError(f"{name} needs a square matrix, not shape "
                             f"{tuple(a.shape[ctx.nb:])}")
        return getattr(ctx.ops, name)(a)
    return run


def _binary_elementwise(name: str) -> Callable[[Context, Any, Any], Any]:
    def run(ctx: Context, a: Any, b: Any) -> Any:
        a, b = _align(ctx, a, b)
        return getattr(ctx.ops, name)(a, b)
    return run


_RUNTIME: dict[str, Callable[..., Any]] = {
    **{f: _reduction(f) for f in ("sum", "mean", "prod", "max", "min", "norm", "logsumexp")},
    "softmax": _softmax, "trace": _trace, "logdet": _logdet,
    "det": _square_op("det"), "inv": _square_op("inv"), "cholesky": _square_op("cholesky"),
    "transpose": _transpose, "diag": _diag, "outer": _outer, "kron": _kron, "solve": _solve,
    "maximum": _binary_elementwise("maximum"), "minimum": _binary_elementwise("minimum"),
    "ones_like": lambda ctx, a: ctx.ops.ones_like(a),
    "zeros_like": lambda ctx, a: ctx.ops.zeros_like(a),
}


def _binop(op: ast.operator) -> Callable[[Context, Any, Any], Any]:
    if isinstance(op, ast.MatMult):
        return _matmul
    fn = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
          ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: a / b,
          ast.Pow: lambda a, b: a ** b}[type(op)]

    def run(ctx: Context, a: Any, b: Any) -> Any:
        a, b = _align(ctx, a, b)
        return fn(a, b)
    return run


@dataclass(frozen=True)
class _Const:
    value: Any  # int, float, or a tuple of them (shapes, axes)


class _Compiler:
    def __init__(self, source: str, names: frozenset[str]) -> None:
        self.source = source
        self.names = names
        self.used: set[str] = set()
        self.functions: set[str] = set()

    def fail(self, node: ast.AST | None, message: str, hint: str = "") -> ExpressionError:
        col = getattr(node, "col_offset", None)
        where = f" (at column {col + 1})" if col is not None else ""
        return ExpressionError(f"{message}{where} in {self.source!r}{hint}")

    # Each visit returns a Node (callable of Context) or a _Const.
    def visit(self, node: ast.AST) -> Node | _Const:
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            what = _NODE_NAMES.get(type(node), f"'{type(node).__name__}'")
            raise self.fail(node, f"{what} is not allowed in an expression")
        return method(node)

    def node(self, node: ast.AST) -> Node:
        """Visit and turn a constant into a node returning a Python float."""
        return self._as_node(node, self.visit(node))

    def _as_node(self, node: ast.AST, out: Node | _Const) -> Node:
        """``out``, what ``node`` compiled to, with a constant made a node."""
        if isinstance(out, _Const):
            if isinstance(out.value, tuple):
                raise self.fail(node, "a tuple or list is only allowed as a shape or an axis")
            value = float(out.value)
            return lambda ctx: value
        return out

    def visit_Expression(self, node: ast.Expression) -> Node | _Const:
        return self.visit(node.body)

    def visit_Constant(self, node: ast.Constant) -> _Const:
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            kind = "a string" if isinstance(v, str) else repr(v)
            raise self.fail(node, f"{kind} is not allowed in an expression; only numbers")
        if isinstance(v, int) and abs(v) > 2 ** 1023:
            raise self.fail(node, "an integer too large for a float64")
        return _Const(v)

    def visit_Tuple(self, node: ast.Tuple | ast.List) -> _Const:
        items = [self.visit(e) for e in node.elts]
        if not all(isinstance(i, _Const) and isinstance(i.value, int) for i in items):
            raise self.fail(node, "a tuple or list may only hold integer constants")
        return _Const(tuple(i.value for i in items))  # type: ignore[union-attr]

    visit_List = visit_Tuple

    def visit_Name(self, node: ast.Name) -> Node:
        name = node.id
        if name.startswith("__"):
            raise self.fail(node, f"the name {name!r} is not allowed")
        if name not in self.names:
            if name in FUNCTIONS:
                raise self.fail(node, f"{name!r} is a function; call it: {name}(...)")
            near = difflib.get_close_matches(name, sorted(self.names), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            known = ", ".join(sorted(self.names)) or "none"
            raise self.fail(node, f"unknown name {name!r} (known names: {known})", hint)
        self.used.add(name)
        return lambda ctx: ctx.env[name]

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Node | _Const:
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise self.fail(node, f"the operator {type(node.op).__name__!r} is not allowed")
        inner = self.visit(node.operand)
        negate = isinstance(node.op, ast.USub)
        if isinstance(inner, _Const):
            if isinstance(inner.value, tuple):
                raise self.fail(node, "a tuple cannot be negated")
            return _Const(-inner.value if negate else inner.value)
        return (lambda ctx: -inner(ctx)) if negate else inner

    def visit_BinOp(self, node: ast.BinOp) -> Node | _Const:
        if not isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.MatMult)):
            raise self.fail(node, f"the operator {type(node.op).__name__!r} is not allowed")
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(left, _Const) and isinstance(right, _Const) \
                and not isinstance(node.op, ast.MatMult):
            if isinstance(left.value, tuple) or isinstance(right.value, tuple):
                raise self.fail(node, "a tuple or list is only allowed as a shape or an axis")
            return _Const(_fold(type(node.op), left.value, right.value))
        if isinstance(node.op, ast.MatMult) and (isinstance(left, _Const)
                                                  or isinstance(right, _Const)):
            raise self.fail(node, "'@' needs arrays on both sides; use '*' for a number")
        fn = _binop(node.op)
        lnode, rnode = self.node(node.left) if isinstance(left, _Const) else left, \
            self.node(node.right) if isinstance(right, _Const) else right
        return lambda ctx: fn(ctx, lnode(ctx), rnode(ctx))

    def visit_Attribute(self, node: ast.Attribute) -> Node:
        if node.attr != "T":
            raise self.fail(node, f"the attribute '.{node.attr}' is not allowed (only '.T')")
        inner = self._array(node.value, "'.T'")
        return lambda ctx: _transpose(ctx, inner(ctx))

    def _index_part(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Slice):
            parts = [None if p is None else self._int(p) for p in (node.lower, node.upper, node.step)]
            return slice(*parts)
        return self._int(node)

    def _int(self, node: ast.AST) -> int:
        value = self.visit(node)
        if not (isinstance(value, _Const) and isinstance(value.value, int)):
            raise self.fail(node, "indices must be integer constants")
        return value.value

    def _array(self, node: ast.AST, what: str) -> Node:
        """``node``, which must be an array: a number has no axes."""
        out = self.visit(node)
        if isinstance(out, _Const):
            raise self.fail(node, f"{what} of a number: it has no axes")
        return out

    def visit_Subscript(self, node: ast.Subscript) -> Node:
        target = self._array(node.value, "indexing")
        sl = node.slice
        parts = sl.elts if isinstance(sl, ast.Tuple) else [sl]
        index = tuple(self._index_part(p) for p in parts)

        def run(ctx: Context) -> Any:
            return target(ctx)[(slice(None),) * ctx.nb + index]
        return run

    def visit_Call(self, node: ast.Call) -> Node | _Const:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node, "only the listed functions may be called")
        name = node.func.id
        if name.startswith("__"):
            raise self.fail(node, f"the name {name!r} is not allowed")
        if name not in FUNCTIONS:
            near = difflib.get_close_matches(name, sorted(FUNCTIONS), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise self.fail(node, f"unknown function {name!r}", hint)
        self.functions.add(name)
        lo, hi, allowed_kw = FUNCTIONS[name]
        if not lo <= len(node.args) <= hi:
            count = str(lo) if lo == hi else f"{lo} to {hi}"
            raise self.fail(node, f"{name}() takes {count} positional argument(s), "
                                  f"not {len(node.args)}")
        kwargs = self._keywords(node, name, allowed_kw)
        if name in ("eye", "ones", "zeros"):
            return self._constructor(node, name)
        if name == "reshape":
            return self._reshape(node)
        if name in ELEMENTWISE:
            return self._elementwise(node, name)
        args = list(node.args)
        if name in _REDUCE_NAMES + ("softmax",) and len(args) == 2:
            axis = self.visit(args.pop())
            if not isinstance(axis, _Const):
                raise self.fail(node, f"the axis of {name}() must be a constant")
            kwargs["axis"] = axis.value
        arg_nodes = self._arguments(node, name, args)
        fn = _RUNTIME[name]
        if len(arg_nodes) == 1:
            (a,) = arg_nodes
            return lambda ctx: fn(ctx, a(ctx), **kwargs)
        a, b = arg_nodes
        return lambda ctx: fn(ctx, a(ctx), b(ctx), **kwargs)

    def _arguments(self, node: ast.Call, name: str, args: list[ast.expr]) -> list[Node]:
        """A function's arrays: a number is refused where it has no meaning
        (every argument a number; a number where arrays are taken)."""
        visited = [self.visit(a) for a in args]  # once each: nested calls compile once
        if all(isinstance(v, _Const) for v in visited):
            raise self.fail(node, f"{name}() of constants: write the number instead")
        if name not in ("maximum", "minimum") and any(isinstance(v, _Const) for v in visited):
            raise self.fail(node, f"{name}() takes arrays; a number has no axes")
        return [self._as_node(a, v) for a, v in zip(args, visited)]

    def _keywords(self, node: ast.Call, name: str, allowed: Any) -> dict[str, Any]:
        """The call's keywords (``axis``, ``keepdims``), each a constant."""
        kwargs: dict[str, Any] = {}
        for kw in node.keywords:
            if kw.arg is None or kw.arg not in allowed:  # None: **kwargs
                raise self.fail(node, f"{name}() takes no keyword {kw.arg!r}")
            value = self.visit(kw.value)
            if not isinstance(value, _Const) or (kw.arg == "keepdims" and value.value not in (0, 1)):
                raise self.fail(kw.value, f"the keyword {kw.arg!r} must be a constant")
            kwargs[kw.arg] = bool(value.value) if kw.arg == "keepdims" else value.value
        return kwargs

    def _elementwise(self, node: ast.Call, name: str) -> Node | _Const:
        arg = self.visit(node.args[0])
        if isinstance(arg, _Const):
            if name not in _FOLD:
                raise self.fail(node, f"{name}() of a constant: write the number instead")
            return _Const(_FOLD[name](float(arg.value)))
        inner: Node = arg
        return lambda ctx: getattr(ctx.ops, name)(inner(ctx))

    def _shape_arg(self, node: ast.AST, what: str) -> tuple[int, ...]:
        value = self.visit(node)
        if not isinstance(value, _Const):
            raise self.fail(node, f"the {what} must be constant integers")
        shape = value.value if isinstance(value.value, tuple) else (value.value,)
        if not all(isinstance(s, int) for s in shape):
            raise self.fail(node, f"the {what} must be constant integers")
        return shape

    def _constructor(self, node: ast.Call, name: str) -> Node:
        shape = self._shape_arg(node.args[0], "shape")
        if name == "eye":
            if len(shape) != 1:
                raise self.fail(node, "eye() takes one integer")
            (n,) = shape
            return lambda ctx: _constant_array(ctx, lambda: ctx.ops.eye(n, ctx.dtype))
        maker = "ones" if name == "ones" else "zeros"
        return lambda ctx: _constant_array(ctx, lambda: getattr(ctx.ops, maker)(shape, ctx.dtype))

    def _reshape(self, node: ast.Call) -> Node:
        target = self._array(node.args[0], "reshape()")
        shape = self._shape_arg(node.args[1], "new shape")

        def run(ctx: Context) -> Any:
            a = target(ctx)
            return ctx.ops.reshape(a, tuple(a.shape[:ctx.nb]) + shape)
        return run


_REDUCE_NAMES = ("sum", "mean", "prod", "max", "min", "norm", "logsumexp")

_FOLD_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Pow: operator.pow}
# An integer power of more bits than this would overflow a float64 many times
# over; Python would still compute it, at the cost of memory without end.
MAX_FOLD_BITS = 1 << 16


def _fold(op: type, a: Any, b: Any) -> Any:
    """``a op b`` for constants, exactly as Python computes it (integers stay
    integers, ``1 / 0`` raises): only the operator asked for is computed."""
    if op is ast.Pow and isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1 \
            and b * abs(a).bit_length() > MAX_FOLD_BITS:
        raise OverflowError("integer power too large")
    value = _FOLD_BINOPS[op](a, b)
    if isinstance(value, complex):  # (-8) ** (1 / 3): not a real number
        raise ValueError("a complex power")
    return value


MAX_SOURCE = 10_000   # characters of one expression


def _short(source: str) -> str:
    return repr(source) if len(source) <= 80 else repr(source[:77] + "...")


class Expression:
    """A compiled expression: call it with values by name and an ops namespace.

    Pickles by its source, so it can travel to worker processes.
    """

    def __init__(self, source: str, names: frozenset[str] | set[str] | list[str]) -> None:
        self.source = str(source)
        self.names = frozenset(names)
        compiler = _Compiler(self.source, self.names)
        if len(self.source) > MAX_SOURCE:
            raise ExpressionError(f"the expression is {len(self.source)} characters long; at "
                                  f"most {MAX_SOURCE} are read")
        try:
            tree = ast.parse(self.source.strip(), mode="eval")
            root = compiler.visit(tree)
        except SyntaxError as exc:
            raise ExpressionError(f"syntax error in {_short(self.source)}: {exc.msg}") from None
        except ExpressionError:
            raise
        except (OverflowError, ZeroDivisionError, ValueError) as exc:
            # Constants are folded as floats: exp(1000), log(-1), 10 ** 10 ** 10.
            why = "it overflows a float64" if isinstance(exc, OverflowError) else \
                "a division by zero" if isinstance(exc, ZeroDivisionError) else \
                "a function outside its domain (log(-1), sqrt(-1)?)"
            raise ExpressionError(f"the constant part of {_short(self.source)} cannot be "
                                  f"computed: {why}") from None
        except (RecursionError, MemoryError):
            raise ExpressionError(f"{_short(self.source)} is nested too deeply to read") from None
        self.used = frozenset(compiler.used)
        self.functions = frozenset(compiler.functions)
        if isinstance(root, _Const):
            if isinstance(root.value, tuple):
                raise ExpressionError(f"{self.source!r} is a tuple, not a value")
            value = float(root.value)
            # A constant function still has one value per point of a batch.
            self._root: Node = lambda ctx: _constant_array(ctx, lambda: ctx.ops.asarray(value,
                                                                                    ctx.dtype))
        else:
            self._root = root

    def __reduce__(self) -> tuple[Any, ...]:
        return (Expression, (self.source, sorted(self.names)))

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"

    @property
    def complex_unsafe(self) -> frozenset[str]:
        """Functions used here through which the complex step is not valid."""
        return self.functions & NOT_COMPLEX_SAFE

    def __call__(self, env: Mapping[str, Any], ops: Any, *, batch: int | None = None,
                 dtype: Any = None) -> Any:
        """Evaluate.

        Parameters
        ----------
        env : mapping of name to array
            With ``batch=k``, every array has a leading axis of length k.
        ops : an ops namespace (see :mod:`fdcheck.backends`)
        batch : int, optional
            Number of points evaluated at once along a leading axis.
        dtype : dtype of constants created by the expression (``eye``...)
        """
        return self._root(Context(env, ops, batch, dtype if dtype is not None else ops.default_dtype))
