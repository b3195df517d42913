"""One constructor for each diagnostic code: the only place a code is written.

A constructor is named for the mistake and takes what varies between its
uses (names, types, spans); it returns the SymError to raise (a warning's
returns its Diagnostic). docs/errors.md documents each code, and
tests/test_error_catalog.py keeps the two in step and the codes out of
every other module.
"""
from __future__ import annotations

from .diagnostics import Diagnostic, SymError, error


def _worded(code, table, kind, span, hint, facts, notes=()) -> SymError:
    """The error of a code with several wordings: `kind` picks the wording
    (and its default help) in `table`, `facts` fill both."""
    message, default_hint = table[kind]
    return error(code, message.format(**facts), span,
                 hint or default_hint and default_hint.format(**facts), notes)


# ---- E00xx: syntax (the parser) ---------------------------------------------------
_UNEXPECTED_TOKEN = {
    "token": ("unexpected {what}", None),
    "could_not_parse": ("could not parse this file",
                        "please report this input as a bug in the parser"),
    "positional_argument_after": ("positional argument after a keyword argument",
                                  "put positional arguments first: `f(x, axis=1)`"),
}


def unexpected_token(kind, span, hint=None, **facts) -> SymError:
    """Unexpected token: `kind` picks the wording, `facts` fill it."""
    return _worded("E0001", _UNEXPECTED_TOKEN, kind, span, hint, facts)


def unclosed_bracket(char, closer, span) -> SymError:
    return error("E0002", f"unclosed `{char}`", span, f"add the missing `{closer}`")


def missing_colon(after, span, hint) -> SymError:
    return error("E0003", f"missing `:` after {after}", span, hint)


_BAD_INDENTATION = {
    "unexpected_indent": ("unexpected indent",
                          "indent only the body of a `def`, `for`, `if`, `elif` or `else` "
                          "(after a line ending in `:`)"),
    "expected_indented_block": ("expected an indented block",
                                "indent the body of the block by 4 spaces"),
    "indenter": ("{message}", None),
}


def bad_indentation(kind, span, hint=None, **facts) -> SymError:
    """Bad indentation: `kind` picks the wording, `facts` fill it."""
    return _worded("E0004", _BAD_INDENTATION, kind, span, hint, facts)


def unexpected_end(span, hint) -> SymError:
    return error("E0005", "unexpected end of input", span, hint)


_INVALID_CHARACTER = {
    "invalid": ("invalid character `{char}` ({char_name})", None),
    "unterminated_string": ("unterminated string", "close the string with `\"` on the same line"),
    "invisible": ("invisible character {char_name}",
                  "{fix}; such characters come with text copied from web pages"),
}


def invalid_character(kind, span, hint=None, **facts) -> SymError:
    """Invalid character or unterminated string: `kind` picks the wording, `facts` fill it."""
    return _worded("E0006", _INVALID_CHARACTER, kind, span, hint, facts)


_INVALID_TYPE = {
    "expected_type": ("expected a type", None),
    "dtype_draw_f32": ("the dtype of a draw must be f32 or f64",
                       "draws are floats; cast them for other dtypes: `i32(bernoulli(rng, "
                       "shape, p))`"),
    "dtype_one_f32": ("dtype must be one of f32 f64 i32 i64 bool", None),
    "invalid_dimension": ("invalid dimension",
                          "a dimension is an integer or a size variable, like `784`, "
                          "`n`, `n + 1` or `2 * n`"),
    "unknown_dtype": ("unknown dtype `{dtype}`", None),
    "unknown_numpy_dtype": ("unknown dtype {dtype!r}: dtype must be one of f32 f64 i32 i64 bool",
                            None),
}


def invalid_type(kind, span, hint=None, **facts) -> SymError:
    """Invalid type: `kind` picks the wording, `facts` fill it."""
    return _worded("E0007", _INVALID_TYPE, kind, span, hint, facts)


# ---- E01xx: names, calls and statements -------------------------------------------
def unknown_name(name, span, suggestion, what="name", unassigned=False) -> SymError:
    """`what`: "name", or "size" for a size variable; `unassigned`: a host
    name the program assigns, but not before this line ran."""
    message = f"`{name}` has no value yet" if unassigned else f"unknown {what} `{name}`"
    return error("E0101", message, span, suggestion)


def unknown_function(name, span, hint=None) -> SymError:
    return error("E0102", f"unknown function `{name}`", span, hint)


_ARGUMENT_COUNTS = {
    "takes": ("`{fname}` takes {count}, got {got}", None),
    "missing": ("`{fname}` is missing {count}: {names}", None),
    "def_takes": ("`{name}` takes {count} argument{s}, got {got}", "signature: {signature}"),
    "builtin_takes": ("`{fname}` takes {at_most}{count} argument{s}, got {got}", "usage: {usage}"),
    "builtin_missing": ("`{fname}` is missing argument `{name}`", "usage: {usage}"),
    "proc_takes": ("`{name}` takes {count} arguments, got {got}", "signature: {signature}"),
}


def wrong_argument_count(kind, span, hint=None, notes=(), **facts) -> SymError:
    """A call with too many or too few arguments: `kind` picks the wording (a call
    from Python, of a def, of a builtin, of a host function), `facts` fill it."""
    return _worded("E0103", _ARGUMENT_COUNTS, kind, span, hint, facts, notes)


_KEYWORD_ARGUMENTS = {
    "unknown": ("`{fname}` has no argument `{key}`", None),
    "two_named": ("`{fname}` has two arguments named `{key}`", "pass them by position"),
    "twice": ("`{fname}` got argument `{key}` twice", "pass it by position or by name, not both"),
    "def_positional_only": ("defs take positional arguments only (`{name}`)", None),
    "proc_positional_only": ("host functions take positional arguments only (`{name}`)", None),
    "builtin_unknown": ("`{fname}` has no parameter `{name}`", None),
    "builtin_twice": ("`{fname}` got `{name}` twice", "usage: {usage}"),
    "function_unknown": ("`dsl.function` has no argument `{key}`", None),
}


def bad_keyword_argument(kind, span, hint=None, notes=(), **facts) -> SymError:
    """A keyword argument that is unknown, repeated, or not taken: `kind` picks the
    wording, `facts` fill it."""
    return _worded("E0104", _KEYWORD_ARGUMENTS, kind, span, hint, facts, notes)


_NOT_A_FUNCTION = {
    "def_called_bare": ("`{name}` is a function; call it", "write `{name}(...)`"),
    "def_value_called": ("`{name}` is a value, not a function", None),
    "host_value_called": ("`{name}` is {what}, not a function",
                          "pass a def or a host function by its name to call it here"),
    "host_called_bare": ("`{name}` is a {entity}; call it", "write `{name}(...)`"),
}


def not_a_function(kind, span, hint=None, **facts) -> SymError:
    """Not a function / not a value: `kind` picks the wording, `facts` fill it."""
    return _worded("E0106", _NOT_A_FUNCTION, kind, span, hint, facts)


def outside_a_loop(word, span) -> SymError:
    return error("E0107", f"`{word}` outside a loop", span)


def recursion(name, path, span) -> SymError:
    return error("E0108", f"`{name}` calls itself ({path})", span,
                 "defs are inlined, so recursion is not supported")


def not_allowed_in_def(kind, span, hint) -> SymError:
    return error("E0109", f"`{kind}` is not allowed inside a def", span, hint)


_UNPACK_COUNTS = {
    "unpack": ("cannot unpack {got} value{s} into {names} names", None),
    "one_tensor": ("expected one tensor, got {got} values", None),
    "one_name": ("`{name}` would hold {got} values", "unpack them: `a, b = ...`"),
    "unpack_value": ("cannot unpack this value into {names} names", None),
    "loop_item": ("each item has {got} values but the loop names {names}", None),
    "loop_item_kind": ("each item is {item}, but the loop names {names}", None),
    "unpack_values": ("cannot unpack {got} values into {names} names", None),
}


def wrong_unpack_count(kind, span, hint=None, **facts) -> SymError:
    """Values and names that do not pair up: `kind` picks the wording, `facts` fill it."""
    return _worded("E0110", _UNPACK_COUNTS, kind, span, hint, facts)


_ATTRIBUTES = {
    "tensor": ("tensors have no attribute `{attr}`", "tensor attributes are `.T` and `.shape`"),
    "value": ("{value} has no attribute `{attr}`", None),
    "field": ("{record} has no field `{attr}`", None),
}


def unknown_attribute(kind, span, hint=None, **facts) -> SymError:
    """`.name` that the value does not have: `kind` picks the wording, `facts` fill it."""
    return _worded("E0111", _ATTRIBUTES, kind, span, hint, facts)


def host_builtin_in_def(name, span) -> SymError:
    return error("E0112", f"`{name}` is a host builtin and cannot be called inside a def", span,
                 "call it at top level")


def parameter_twice(param, def_name, span) -> SymError:
    return error("E0113", f"parameter `{param}` appears twice in `{def_name}`", span)


_NOT_A_HOST_STATEMENT = {
    "return": ("`return` outside a def", None),
    "statement": ("`{statement}` is not a host statement", None),
}


def not_a_host_statement(kind, span, hint=None, **facts) -> SymError:
    """`return` outside a def: `kind` picks the wording, `facts` fill it."""
    return _worded("E0114", _NOT_A_HOST_STATEMENT, kind, span, hint, facts)


_DECLARED_TWICE = {
    "same_kind": ("{entity} `{name}` is declared twice", None),
    "other_kind": ("`{name}` is declared twice: as {first_kind} and as {entity}",
                   "defs, shared values and options share one namespace: rename one of "
                   "them"),
    "def": ("def `{name}` is defined twice", "rename one of them"),
}


def declared_twice(kind, span, hint=None, notes=(), **facts) -> SymError:
    """Declared twice: `kind` picks the wording, `facts` fill it."""
    return _worded("E0115", _DECLARED_TWICE, kind, span, hint, facts, notes)


def nested_too_deeply(what, span) -> SymError:
    return error("E0116", f"{what} is nested too deeply to check", span,
                 "split the long expression into several assignments: `a = ...`, `b = "
                 "a + ...`")


_HOST_ASSIGNS_DECLARED_NAME = {
    "cannot_assign_shared": ("cannot assign shared `{name}` on the host",
                             "a shared value changes through an update in a def (`{name} "
                             "<- ...`), `load(\"file.npz\")`, or from Python (`m.{name} "
                             "= value`); for a host value, choose another name"),
    "cannot_assign_option": ("cannot assign option `{name}` on the host: an option is "
                             "a constant of the run",
                             "set it for a run with `--set {name}=VALUE` (or `options={{...}}` "
                             "in `dsl.load`); for a host value, choose another name"),
    "cannot_assign_host": ("cannot assign `{name}` on the host: it is a def",
                           "choose another name for the host value"),
}


def host_assigns_declared_name(kind, span, hint=None, notes=(), **facts) -> SymError:
    """Host assignment to a declared name: `kind` picks the wording, `facts` fill it."""
    return _worded("E0117", _HOST_ASSIGNS_DECLARED_NAME, kind, span, hint, facts, notes)


def def_hides_global(what, name, def_name, kind, span, hint, notes) -> SymError:
    return error("E0118", f"{what} `{name}` of `{def_name}` has the name of the {kind} `{name}`", span,
                 hint, notes)


_STATEMENT_AFTER_RETURN = {
    "statement_comes_after": ("this statement comes after the `return` of `{name}` and "
                              "would never run",
                              "move it before the `return`, or remove it"),
    "has_second_return": ("`{name}` has a second `return`",
                          "a def has one `return`, its last statement; return several "
                          "values as a tuple: `return a, b`"),
}


def statement_after_return(kind, span, hint=None, notes=(), **facts) -> SymError:
    """Statement after `return`: `kind` picks the wording, `facts` fill it."""
    return _worded("E0119", _STATEMENT_AFTER_RETURN, kind, span, hint, facts, notes)


# ---- E02xx: types: dtypes, shapes, broadcasting, returns --------------------------
def not_broadcastable(left, right, what=None, axis=None, shapes=None) -> SymError:
    """Dimension `left` against `right` at `axis` of the operands (`shapes`)
    of `what`; without `what`, of paired index arrays. For `concat`, `left`
    and `right` are the two tensors' types."""
    if what == "concat":
        return error("E0201", f"concat needs equal shapes except on axis {axis}: {left} and {right}",
                     None)
    if what is None:
        return error("E0201", f"index arrays do not broadcast together: dimension {left} vs {right}",
                     None, "paired index arrays must have the same length, as in `p[arange(n), y]`")
    a, b = shapes
    return error("E0201", f"shapes {a} and {b} do not broadcast for `{what}`: dimension {left} does "
                 f"not match {right} (axis {axis})", None, "broadcasting aligns shapes from the right; "
                 "a dimension must be equal or 1 (use reshape or transpose to line them up)")


_MATMUL_SHAPES = {
    "rank": ("`@` needs vectors or matrices, got {a} and {b}", "use `*` to scale by a scalar"),
    "inner": ("matmul inner dimensions differ: {a} @ {b} ({inner_a} vs {inner_b})", None),
}


def matmul_shapes(kind, hint=None, **facts) -> SymError:
    """Matmul shapes: `kind` picks the wording, `facts` fill it."""
    return _worded("E0202", _MATMUL_SHAPES, kind, None, hint, facts)


_SIGNATURE_MISMATCH = {
    "rank": ("argument `{pname}` of `{fname}` must be {expected}, got {type}", None),
    "size": ("size `{var}` of `{fname}` is {want} from argument `{first}`, but argument "
             "`{pname}` gives {got}",
             "every `{var}` in the signature of `{fname}` must be the same size; `{pname}` "
             "is {type}"),
}


def signature_mismatch(kind, span, hint=None, notes=(), **facts) -> SymError:
    """Argument does not fit the def's signature: `kind` picks the wording, `facts` fill it."""
    return _worded("E0203", _SIGNATURE_MISMATCH, kind, span, hint, facts, notes)


_RETURN_MISMATCH = {
    "no_return": ("`{name}` ends without `return`",
                  "add `return ...` giving a value of type {ret_type}"),
    "count": ("`{name}` returns {count} value(s) but its type is {ret_type}", None),
    "type": ("`{name}` returns {type}, but its signature says {expect}", None),
}


def return_mismatch(kind, span, hint=None, **facts) -> SymError:
    """Return does not match the declared type: `kind` picks the wording, `facts` fill it."""
    return _worded("E0204", _RETURN_MISMATCH, kind, span, hint, facts)


_FLOAT_WIDTHS_MIXED = {
    "argument": ("argument `{pname}` of `{fname}` must be {ptype}, got {got}",
                 "cast it: `{dtype}(...)`"),
    "operands": ("`{what}` mixes {dtype_a} and {dtype_b}: {a} and {b}",
                 "nothing is upcast silently; cast one side, e.g. `{dtype_a}(...)` or "
                 "`{dtype_b}(...)`"),
}


def float_widths_mixed(kind, span, hint=None, **facts) -> SymError:
    """F32 and f64 mixed: `kind` picks the wording, `facts` fill it."""
    return _worded("E0205", _FLOAT_WIDTHS_MIXED, kind, span, hint, facts)


_KINDS_MIXED = {
    "argument": ("argument `{pname}` of `{fname}` must be {ptype}, got {got}",
                 "cast it: `{dtype}(...)`"),
    "fill": ("the float {value} cannot fill a tensor of {dtype}",
             "write an integer, or give a float dtype: `dtype=f32`"),
    "literal": ("the float literal {value} cannot become {dtype}", None),
    "operands": ("`{what}` mixes {dtype_a} and {dtype_b}: {a} and {b}",
                 "nothing is converted silently; cast the {other} operand: `{target}(...)`"),
    "bool_operand": ("`{what}` mixes bool and {dtype}: {a} and {b}",
                     "cast the bool side, e.g. `{dtype}(mask)`"),
    "int_division": ("`/` on integers ({a}, {b}) would give floats",
                     "use `//` for integer division, or cast: `f32(a) / f32(b)`"),
}


def kinds_mixed(kind, span, hint=None, **facts) -> SymError:
    """Int and float (or bool) mixed: `kind` picks the wording, `facts` fill it."""
    return _worded("E0206", _KINDS_MIXED, kind, span, hint, facts)


_WRONG_NUMBER_KIND = {
    "one_hot_needs": ("`one_hot` needs integer labels, got {t}",
                      "convert first: `one_hot(i32(y), k)`"),
    "needs_float_tensor": ("`{what}` needs a float tensor, got {t}", None),
    "needs_number_got": ("`{name}` needs a number, got {t}", "cast with `i32(...)` or `f32(...)`"),
    "needs_numbers_got": ("`{name}` needs numbers, got {t}", None),
    "mean_needs_float": ("`mean` needs a float tensor, got {t}", "cast first: `mean(f32(...))`"),
}


def wrong_number_kind(kind, hint=None, **facts) -> SymError:
    """Wrong kind of number for this operation: `kind` picks the wording, `facts` fill it."""
    return _worded("E0207", _WRONG_NUMBER_KIND, kind, None, hint, facts)


def reshape_count(t, shape, count, new_count) -> SymError:
    return error("E0208", f"cannot reshape {t} into {shape}: {count} elements vs {new_count}", None,
                 "the number of elements must stay the same")


_BOOL_MISMATCH = {
    "fill": ("cannot fill a tensor of {dtype} with {value}",
             "fill bool tensors with `true` or `false`, numbers with numbers"),
    "not": ("`not` needs a bool, got {t}", "compare first, e.g. `not (x > 0)`"),
    "where": ("the condition of `where` must be bool, got {c}",
              "compare first, e.g. `where(x > 0, x, 0.0)`"),
    "matmul": ("`@` is not defined on bool tensors", None),
    "arithmetic": ("`{symbol}` is not defined on bool tensors ({a}, {b})",
                   "use `and`/`or`, or cast with `i32(...)`"),
    "logic": ("`{name}` needs bool operands, got {t}",
              "compare first (`x > 0`), or use `*` / `+` for numbers"),
}


def bool_mismatch(kind, span, hint=None, **facts) -> SymError:
    """Bool where a number is needed, or the reverse: `kind` picks the wording, `facts` fill it."""
    return _worded("E0209", _BOOL_MISMATCH, kind, span, hint, facts)


_AXIS_OUT_OF_RANGE = {
    "axis": ("axis {axis} is out of range for a tensor of rank {rank}", None),
    "len_of_scalar": ("`len` of a scalar", None),
    "permutation": ("axes {perm} are not a permutation of 0..{last}", None),
    "flatten_ndim": ("flatten(ndim={ndim!r}) of a tensor of rank {rank}",
                     "ndim is the rank of the result: 1..{top}"),
    "dimshuffle": ("dimshuffle{pattern} must name every axis of a tensor of rank {rank} once "
                   "(one left out must have size 1), and 'x' for new axes",
                   "e.g. `x.dimshuffle(1, 0)`, `v.dimshuffle('x', 0)`"),
}


def axis_out_of_range(kind, span, hint=None, **facts) -> SymError:
    """Axis out of range: `kind` picks the wording, `facts` fill it."""
    return _worded("E0210", _AXIS_OUT_OF_RANGE, kind, span, hint, facts)


_UNBOUND_SIZE = {
    "in_return": ("size variable `{name}` in the return type of `{def_name}` is not bound "
                  "by any parameter",
                  "every size in the result must come from the arguments' shapes"),
    "in_parameter": ("size variable `{size}` in `{param}: {t}` is not bound by any parameter",
                     "a call binds `{size}` only from a dimension that is `{size}` alone: "
                     "write `{size}` as a dimension of a parameter, or use a fixed size"),
}


def unbound_size(kind, span, hint=None, **facts) -> SymError:
    """Size not bound by a parameter: `kind` picks the wording, `facts` fill it."""
    return _worded("E0211", _UNBOUND_SIZE, kind, span, hint, facts)


def shared_size_variable(name, size, span) -> SymError:
    return error("E0212", f"shared `{name}` has the size variable `{size}` in its type", span,
                 "a shared value's shape is fixed: write the number, e.g. `f32[784, 10]`")


_NOT_A_CONSTANT = {
    "depth_one_hot": ("the depth of one_hot must be at least 1, got {depth}",
                      "it is the number of classes: `one_hot(y, 10)`"),
    "fill_value_full": ("the fill value of `full` must be a literal", None),
    "slice_integer_literal": ("the {what} of a slice must be an integer literal", None),
    "slice_step_cannot": ("a slice step cannot be zero", None),
    "true_false": ("{what} must be `true` or `false`", None),
    "integer_literal": ("{what} must be an integer literal",
                        "write a constant such as `1` or `-1`"),
}


def not_a_constant(kind, span, hint=None, **facts) -> SymError:
    """Argument must be a constant: `kind` picks the wording, `facts` fill it."""
    return _worded("E0213", _NOT_A_CONSTANT, kind, span, hint, facts)


_SHAPE_NOT_STATIC = {
    "shape": ("a shape must be known before the def runs", None),
    "arange": ("`arange` takes one size, got a shape of {rank} dimensions",
               "`arange(n)` counts 0..n-1; for more axes, reshape it: `reshape(arange(6), "
               "(3, 2))`"),
    "computed": ("`{name}` is a value computed when the def runs, but a shape must be "
                 "known before it runs",
                 "use a size variable of a parameter's type (`x: f32[k]`), a number or "
                 "an option"),
    "negative": ("a dimension cannot be negative (this one is {d})",
                 "sizes count elements: use a number >= 0"),
    "dimension": ("a dimension must be an integer, a size variable, or `+ - *` of them",
                  "e.g. `f32[n, 784]` or `f32[n + 1]`"),
    "negative_literal": ("a dimension cannot be negative: -{operand}",
                         "sizes count elements: `0` or more"),
    "fresh_size_taken": ("`{d}` is already the name of a fresh size", "choose another size name"),
    "tensor_dimension": ("a dimension must be an integer, a size name or None, got {d!r}",
                         "e.g. `shape=(\"n\", 784)`"),
    "computed_from_data": ("a shape must be known before the function runs, but this {type} "
                           "value is computed from data",
                           "use integers and sizes of inputs (`x.shape[0]`)"),
    "draw_size": ("the size of a draw must be static or a size of an input, got {d!r}",
                  "e.g. `srng.uniform((2, 2))` or `srng.uniform(x.shape)`"),
}


def shape_not_static(kind, span, hint=None, **facts) -> SymError:
    """Shape not known before the def runs: `kind` picks the wording, `facts` fill it."""
    return _worded("E0214", _SHAPE_NOT_STATIC, kind, span, hint, facts)


_NOT_A_TENSOR = {
    "expected_tensor_here": ("expected a tensor here", None),
    "strings_are_host": ("strings are host values and cannot be used inside a def",
                         "print from the host instead"),
    "option_string_cannot": ("option `{name}` is a string and cannot be used inside a "
                             "def",
                             None),
    "numpy_dtype": ("numpy arrays of dtype {dtype} cannot be used in an expression",
                    "convert it first, e.g. `.astype(np.float32)` or `.astype(np.int32)`"),
    "python_value": ("cannot use {what} in a tensor expression",
                     "use a dsl variable, a number or a numpy array"),
}


def not_a_tensor(kind, span, hint=None, **facts) -> SymError:
    """Not a tensor: `kind` picks the wording, `facts` fill it."""
    return _worded("E0215", _NOT_A_TENSOR, kind, span, hint, facts)


_BAD_TENSOR_LITERAL = {
    "empty": ("an empty tensor literal has no type", "use `zeros((0,))`"),
    "ragged": ("rows of a tensor literal have different lengths", None),
    "not_numbers": ("tensor literals hold numbers only",
                    "build tensors from expressions with `stack((a, b))`"),
    "host_list": ("cannot make a tensor from a list of {items}", "a list holds numbers or tensors"),
    "host_ragged": ("the rows of this list have different shapes", None),
}


def bad_tensor_literal(kind, span, hint=None, **facts) -> SymError:
    """Bad tensor literal: `kind` picks the wording, `facts` fill it."""
    return _worded("E0216", _BAD_TENSOR_LITERAL, kind, span, hint, facts)


def needs_tensor_tuple(name, span) -> SymError:
    return error("E0217", f"`{name}` takes a tuple of tensors: `{name}((a, b), axis=0)`", span)


_NUMBER_OUT_OF_RANGE = {
    "power": ("the integer {a} ** {b} has about {digits} digits, too large for any dtype",
              "write a float literal such as `1e30`; `{a}.0 ** {b}` is inf"),
    "host_int": ("the result of `{op}` ({a} {op} {b}) does not fit in i64",
                 "host integers are i64; `{a}.0 {op} {b}` computes it in floats"),
    "float_literal": ("this float literal does not fit in f64",
                      "f64 holds magnitudes up to {limit:g}"),
    "int": ("the integer {shown} does not fit in {dtype}", None),
    "int_as_float": ("the integer {shown} is too large for {dtype}",
                     "write a float literal such as `1e30`"),
    "float": ("the number {value!r} does not fit in {dtype}", None),
    "option": ("{what} does not fit in {dtype}", "options are i64 integers or finite f64 floats"),
}


def number_out_of_range(kind, span, hint=None, **facts) -> SymError:
    """Number out of range: `kind` picks the wording, `facts` fill it."""
    return _worded("E0218", _NUMBER_OUT_OF_RANGE, kind, span, hint, facts)


def empty_reduction(op, shown, span) -> SymError:
    return error("E0219", f"`{op}` of zero elements has no value: its input is {shown}", span,
                 "make sure the reduced axes are not empty (`sum` of zero elements is 0, `mean` NaN)")


def negative_power(span, lowest=None) -> SymError:
    """`lowest`: the most negative constant exponent the checker sees; None
    for an exponent computed when the program runs."""
    if lowest is None:
        return error("E0220",
                     "an integer to a negative power is not an integer: an exponent "
                     "computed here is negative", span,
                     "cast the base to a float: `f32(x) ** ...`, or keep the exponents >= 0")
    return error("E0220", f"an integer to the negative power {lowest} is not an integer", span,
                 "cast the base to a float: `f32(x) ** ...`, or use an exponent >= 0")


_OUT_OF_MEMORY = {
    "shared": ("out of memory allocating shared `{name}`: {exc}",
               "use smaller sizes; the shared values must fit in memory together"),
    "run": ("out of memory: {exc}", "use smaller sizes; a value must fit in memory at once"),
    "too_large": ("{reason}", None),
    "initial": ("out of memory making the initial value of `{name}` ({t}): {exc}",
                "use smaller sizes; a value must fit in memory at once"),
    "computing": ("out of memory computing this value: {exc}",
                  "use smaller sizes; a value must fit in memory at once"),
}


def out_of_memory(kind, span, hint=None, **facts) -> SymError:
    """Value too large for memory: `kind` picks the wording, `facts` fill it."""
    return _worded("E0221", _OUT_OF_MEMORY, kind, span, hint, facts)


def conv_channels_differ(x, image_channels, k, filter_channels) -> SymError:
    return error("E0230",
                 f"`conv2d` channels differ: the image {x} has {image_channels} channels, the filters "
                 f"{k} expect {filter_channels}", None,
                 "axis 1 of both is the channel count: filters are f[out_channels, in_channels, "
                 "kh, kw]")


def filters_too_large(x, name, size, k, window) -> SymError:
    return error("E0231",
                 "`conv2d` in valid mode needs filters no larger than the image: image "
                 f"{x} has {name} {size}, filters {k} have {window}", None,
                 "use smaller filters, pad the image, or `mode=\"full\"`")


def pool_window_too_large(what, window, x, name, size, limit) -> SymError:
    return error("E0232", f"`{what}` window {window} is larger than its input {x} ({name} {size} < {limit})",
                 None,
                 "use a smaller window, or `ignore_border=false` to pool the partial "
                 "window")


def stride_not_whole(what, x, extent, stride) -> SymError:
    return error("E0233",
                 f"`{what}` of {x} cannot size its result: ({extent}) // {stride} is not a "
                 "whole number for every value of its sizes", None,
                 "give the image's height and width as numbers (`f32[n, 1, 28, 28]`), "
                 "or a stride of 1")


def not_an_image(what, role, t) -> SymError:
    return error("E0235", f"`{what}` needs {role} of rank 4, got {t}", None,
                 "images are f[batch, channels, height, width]: reshape first, e.g. `reshape(x, "
                 "(n, 1, 28, 28))`")


def new_axis_with_index_arrays(span) -> SymError:
    return error("E0236", "`none` (a new axis) cannot be mixed with index arrays", span,
                 "index first, then add the axis: `v = x[i]` and `v[:, none]`")


_BAD_WINDOW_ARGUMENT = {
    "pair": ("{what} must be one or two positive integers, got {got}",
             "give (rows, columns), e.g. `(2, 2)`"),
    "choice": ("{what} must be {choices}", "e.g. `mode=\"{last}\"`"),
    "pool_mode": ("pool_2d mode must be 'max' or 'average_exc_pad', got {mode!r}",
                  "average_exc_pad averages the elements inside the input"),
}


def bad_window_argument(kind, span, hint=None, **facts) -> SymError:
    """Bad mode, window or stride: `kind` picks the wording, `facts` fill it."""
    return _worded("E0237", _BAD_WINDOW_ARGUMENT, kind, span, hint, facts)


_BAD_AFTER = {
    "after_continues_generator": ("`after=` continues the generator of a shared value "
                                  "drawn before: {what} a shared value drawn by `uniform` "
                                  "or `normal` above",
                                  "declare that value first, with `seed=`: `shared W0: "
                                  "f32[...] = uniform(lo, hi, seed=S)`"),
    "give_seed_after": ("give `seed=` or `after=`, not both: `after=` continues the other "
                        "value's generator",
                        "drop `seed=` here"),
}


def bad_after(kind, span, hint=None, **facts) -> SymError:
    """`after=` names no value drawn before: `kind` picks the wording, `facts` fill it."""
    return _worded("E0238", _BAD_AFTER, kind, span, hint, facts)


def no_opencl_kernel(op, span) -> SymError:
    return error("E0239", f"the OpenCL backend cannot run `{op}` yet", span,
                 "run this program on the numpy backend: `--backend numpy`")


def window_larger_than_image(name, what, shown, window, span) -> SymError:
    """`what`: "filters" for a convolution, "a window" for pooling."""
    return error("E0234",
                 f"`{name}` needs {what} no larger than the image: the image is {shown}, "
                 f"the {what.removeprefix('a ')} {window[0]}x{window[1]}", span,
                 "call it with images at least as large as the window, "
                 "or use mode=\"full\" (convolution) or ignore_border=false (pooling)")


# ---- E03xx: indexing --------------------------------------------------------------
def mask_indexing(mask_type, span) -> SymError:
    return error("E0301",
                 f"boolean mask indexing is not supported: the mask has type {mask_type} and "
                 "the result's size would depend on the data", span,
                 "keep the shape static: `where(mask, x, 0.0)`, or reduce with the mask: "
                 "`sum(where(mask, x, 0.0))`")


_CONSTANT_INDEX_OUT_OF_RANGE = {
    "shape": ("shape index out of range for a rank-{rank} tensor", None),
    "index": ("{shown} is out of range for axis {axis} of size {dim} ({type})",
              "valid indices are {valid}"),
    "bound": ("{what} is out of range for axis {axis} of size {dim}",
              "valid indices are 0..{last}"),
    "requirement": ("{message}", None),
}


def constant_index_out_of_range(kind, span, hint=None, **facts) -> SymError:
    """Constant index out of range: `kind` picks the wording, `facts` fill it."""
    return _worded("E0302", _CONSTANT_INDEX_OUT_OF_RANGE, kind, span, hint, facts)


def too_many_indices(count, x_type, rank, span) -> SymError:
    return error("E0303", f"too many indices: {count} for {x_type} (rank {rank})", span,
                 "index at most one position per dimension")


_NON_INTEGER_INDEX = {
    "constant": ("an index must be an integer, got {value!r}", None),
    "value": ("an index must be an integer, got {type}", "cast it: `i32(...)`"),
    "array": ("index arrays must be integers, got {t}", None),
}


def non_integer_index(kind, span, hint=None, **facts) -> SymError:
    """Index is not an integer: `kind` picks the wording, `facts` fill it."""
    return _worded("E0304", _NON_INTEGER_INDEX, kind, span, hint, facts)


_UNSUPPORTED_INDEXING = {
    "slice_size_has": ("this slice of the size `{dim}` has no static length", None),
    "stepped_slice_size": ("a stepped slice of the size `{dim}` is not supported",
                           "reshape first, or slice a dimension of known size"),
    "integer_array_indices": ("integer-array indices must come first",
                              "transpose so the indexed axes lead"),
    "mixing_integer_arrays": ("mixing integer arrays with a later constant index is not "
                              "supported",
                              "index in two steps: `x[idx][:, 0]`"),
    "slice_after_integer": ("a slice after integer-array indices is not supported",
                            "slice in a second step: `x[idx][:, 1:3]`"),
    "ellipsis": ("`...` in an index is not supported", "index every axis explicitly"),
}


def unsupported_indexing(kind, span, hint=None, **facts) -> SymError:
    """Unsupported indexing form: `kind` picks the wording, `facts` fill it."""
    return _worded("E0305", _UNSUPPORTED_INDEXING, kind, span, hint, facts)


# ---- E04xx: `grad` ----------------------------------------------------------------
def cost_independent(name, span) -> SymError:
    return error("E0403", f"the cost does not depend on `{name}`", span,
                 f"its gradient would be zero everywhere; check that `{name}` is used "
                 "in the cost")


_NO_GRADIENT_RULE = {
    "max_pool_twice": ("no gradient rule for the gradient of max pooling",
                       "differentiate max pooling once; mean pooling can be differentiated "
                       "twice"),
    "op": ("no gradient rule for `{op}`", "this operation cannot be differentiated yet"),
}


def no_gradient_rule(kind, span, hint=None, **facts) -> SymError:
    """No gradient rule: `kind` picks the wording, `facts` fill it."""
    return _worded("E0404", _NO_GRADIENT_RULE, kind, span, hint, facts)


def grad_wrt_non_float(name, wrt_type, span) -> SymError:
    return error("E0405", f"cannot differentiate with respect to `{name}` of type {wrt_type}", span,
                 "gradients exist only for float values")


_BAD_GRAD_WRT = {
    "not_a_name": ("the second argument of `grad` must be a name",
                   "name a parameter, a shared value or a bound value: `grad(cost, W)`"),
    "not_a_variable": ("`grad` differentiates with respect to variables, got {got}",
                       "pass a dsl variable or shared value, or a list of them: "
                       "`grad(cost, [W, b])`"),
}


def bad_grad_wrt(kind, span, hint=None, **facts) -> SymError:
    """What `grad` differentiates with respect to is not a name (in .sym) or
    not a variable (from Python): `kind` picks the wording, `facts` fill it."""
    return _worded("E0406", _BAD_GRAD_WRT, kind, span, hint, facts)


def cost_not_scalar(t, span) -> SymError:
    return error("E0401", f"`grad` needs a scalar cost, got {t}", span,
                 "reduce it first: `grad(sum(...), W)` or `grad(mean(...), W)`")


def cost_not_float(t, span) -> SymError:
    return error("E0402", f"`grad` needs a float cost, got {t}", span, "cast the cost: `f32(...)`")


# ---- E05xx: shared values and updates ---------------------------------------------
_UPDATE_OF_NON_SHARED = {
    "not_shared": ("`{name}` is {what}: only shared values can be updated with `<-`", None),
    "local_group": ("`{target}` is a group of local values: only shared values can be "
                    "updated with `<-`",
                    "to compute new values here, bind them: `{target} = ...`"),
    "pairs": ("updates are (shared, new value) pairs",
              "e.g. `updates=[(W, W - 0.1 * dsl.grad(cost, W))]`"),
    "function_target": ("{what}: only shared values can be updated",
                        "make it with `dsl.shared(value, name=...)`"),
}


def update_of_non_shared(kind, span, hint=None, **facts) -> SymError:
    """Update of something that is not shared: `kind` picks the wording, `facts` fill it."""
    return _worded("E0501", _UPDATE_OF_NON_SHARED, kind, span, hint, facts)


def update_type_mismatch(name, value_type, want, span, hint) -> SymError:
    return error("E0502", f"update of `{name}` has type {value_type}, but `{name}` is {want}", span, hint)


def update_outside_def(target, span) -> SymError:
    return error("E0503", f"`{target} <- ...` outside a def: updates happen when a def returns",
                 span,
                 "put the update in a def and call that def here; to replace the value "
                 "now, load a checkpoint or set it from Python")


def updating_def_called_in_def(name, shared, span, hint, notes=()) -> SymError:
    return error("E0504", f"`{name}` updates `{shared}` and so cannot be called from another def",
                 span, hint, notes)


def updated_twice(name, span, notes=(), def_name=None) -> SymError:
    """`def_name`: the def written in .sym; None for a function of the tensor API."""
    where = f"`{def_name}`" if def_name else "one function"
    return error("E0505", f"`{name}` is updated twice in {where}", span,
                 "combine the two updates into one expression", notes)


# ---- E06xx: host values and run-time checks ---------------------------------------
_HOST_CALL_MISMATCH = {
    "argument_got": ("argument `{pname}` of `{name}` must be {ptype}, got {got}", None),
    "size_from_argument": ("size `{var}` of `{name}` is {size} from argument `{first}`, "
                           "but argument `{pname}` gives {g}",
                           None),
}


def host_call_mismatch(kind, span, hint=None, notes=(), **facts) -> SymError:
    """Host call that contradicts the signature: `kind` picks the wording, `facts` fill it."""
    return _worded("E0602", _HOST_CALL_MISMATCH, kind, span, hint, facts, notes)


_INDEX_OUT_OF_RANGE = {
    "host_too_many": ("bad index: too many indices for array: array is {rank}-dimensional, "
                      "but {count} were indexed",
                      None),
    "host_tuple": ("bad index: tuple index out of range", None),
    "host_bounds": ("bad index: index {index} is out of bounds for axis {axis} with size "
                    "{size}",
                    None),
    "host_kind": ("bad index: only integers, slices (`:`), ellipsis (`...`), numpy.newaxis "
                  "(`None`) and integer or boolean arrays are valid indices",
                  None),
    "in_call": ("{message} (in a call of `{name}`)", None),
    "host": ("bad index: {exc}", None),
    "run": ("{exc}", None),
    "data": ("index {index} is out of range for axis {axis} of size {size}{where}",
             "indices come from the data here; check the labels or indices you pass"),
}


def index_out_of_range(kind, span, hint=None, notes=(), **facts) -> SymError:
    """Index out of range at run time: `kind` picks the wording, `facts` fill it."""
    return _worded("E0603", _INDEX_OUT_OF_RANGE, kind, span, hint, facts, notes)


_RUN_TIME_ARGUMENT_MISMATCH = {
    "shape": ("argument `{param_name}` of `{fname}` must be {expected_type}, got shape "
              "{actual_shape}",
              None),
    "kind": ("argument `{name}` of `{fname}` must be {t}, got {got}", None),
    "dtype": ("argument `{name}` of `{fname}` must be {t}, got {got}{shape}",
              "convert it: `{dtype}(...)` in .sym, or `.astype(np.{numpy_dtype})` in "
              "Python"),
    "size": ("with {bound} the size `{dim}` of this value would be {value}",
             "the arguments are too small for this def"),
    "float_for_int": ("argument `{name}` of `{fname}` must be {t}, got the float {value}",
                      "pass an integer, or change the parameter to f32"),
    "not_a_number": ("argument `{name}` of `{fname}` must be {t}, got {value!r}",
                     "pass `true` or `false` for bool, a number otherwise"),
    "ragged_list": ("argument `{name}` of `{fname}` must be {t}, got a list whose rows have "
                    "different lengths",
                    "every row of a nested list must have the same length"),
    "out_of_range": ("argument `{name}` of `{fname}` must be {t}, got {got} values outside the "
                     "range of {dtype}",
                     "the values must fit in {dtype}: {low}..{high}"),
}


def run_time_argument_mismatch(kind, span, hint=None, notes=(), **facts) -> SymError:
    """Argument does not match the signature at run time:
    `kind` picks the wording, `facts` fill it."""
    return _worded("E0604", _RUN_TIME_ARGUMENT_MISMATCH, kind, span, hint, facts, notes)


_SHARED_VALUE_MISMATCH = {
    "unknown": ("program has no shared value `{name}`", "shared values: {names}"),
    "draw_for_int": ("`{fname}` draws floats, but shared `{name}` is {want}",
                     "declare `{name}` with a float dtype (f32), or initialise it with "
                     "`zeros()`, `ones()` or `full(value)`"),
    "fill_kind": ("shared `{name}` is {want}; `full({shown})` is {what}",
                  "fill bool values with `true` or `false`, and numbers with numbers"),
    "fill_fraction": ("shared `{name}` is {want}; `full({shown})` would drop the fraction",
                      "fill it with an integer (`full(0)`), or declare it f32"),
    "number": ("shared `{name}` is {want}; cannot set it to the number{number}",
               "use `full(...)` to fill it"),
    "declared": ("shared `{name}` is {want}; cannot set it to {dtype}{shape}",
                 "the shape and dtype must match the declaration exactly"),
    "dtype": ("shared `{name}` is {want}; `dtype={given}` disagrees",
              "the declaration gives the dtype: leave `dtype=` out"),
    "executor": ("`{name}` uses shared `{shared}`, which this executor does not hold", None),
    "value": ("shared `{name}` is {t}; cannot set it to {got}",
              "the shape and dtype must match the declaration exactly"),
    "float": ("shared `{name}` is {t}; cannot set it to the float {value}",
              "the shape and dtype must match the declaration exactly"),
    "from_python": ("cannot make a shared value{named} from a {type_name}",
                    "pass a numpy array, e.g. `np.zeros((784, 10), np.float32)`"),
}


def shared_value_mismatch(kind, span, hint=None, **facts) -> SymError:
    """Shared value set to the wrong shape or dtype: `kind` picks the wording, `facts` fill it."""
    return _worded("E0605", _SHARED_VALUE_MISMATCH, kind, span, hint, facts)


_HOST_OPERATIONS = {
    "divide_by_zero": ("division by zero", None),
    "compute": ("cannot compute `{op}` of {operands}", None),
    "loop": ("cannot loop over {what}", None),
    "truth": ("the truth of a tensor of shape {shape} is ambiguous",
              "reduce it first: `any` is `max(...)`, or compare a scalar"),
    "use": ("cannot use {what} here", None),
    "print": ("cannot print this value: {reason}",
              "print it as a float, or with `format(value, \"e\")`"),
}


def host_operation_failed(kind, span, hint=None, **facts) -> SymError:
    """A host operation that cannot run: `kind` picks the wording, `facts` fill it."""
    return _worded("E0606", _HOST_OPERATIONS, kind, span, hint, facts)


def not_finite(message, span, hint=None, notes=()) -> SymError:
    return error("E0607", message, span, hint, notes)


def bad_host_argument(message, span, hint=None, notes=()) -> SymError:
    return error("E0615", message, span, hint, notes)


def initializer_only(name, span) -> SymError:
    """`normal(...)` or `uniform(...)` outside a shared declaration."""
    return error("E0616",
                 f"`{name}` draws the initial value of a shared value; it is not a host "
                 "function", span,
                 f"declare the value: `shared W: f32[784, 10] = {name}(0.0, 0.01, seed=1)`")


def data_error(message, span, hint=None) -> SymError:
    """A data file or a host data call that failed; the data layer words it."""
    return error("E0601", message, span, hint)


def not_a_regular_file(path, kind, what, span) -> SymError:
    return error("E0610", f"{path} is {kind}, not a regular file: cannot write the {what} there",
                 span,
                 f"write the {what} to a regular file (a new path, or an existing file, "
                 "which is replaced whole)")


def overwrites_program(path, what, span) -> SymError:
    return error("E0611", f"{path} is the program's own source: will not write the {what} over it",
                 span, f"choose another path for the {what}")


# ---- E07xx: options ---------------------------------------------------------------
def option_not_literal(name, span) -> SymError:
    return error("E0701", f"option `{name}` must be a literal (number, string, true/false)", span)


def no_such_option(name, hint) -> SymError:
    return error("E0702", f"this program has no option `{name}`", None, hint)


def option_wrong_type(name, kind, given, span, hint) -> SymError:
    return error("E0703", f"option `{name}` is {kind}, cannot set it to {given!r}", span, hint)


# ---- E08xx: the OpenCL backend ----------------------------------------------------
_NO_OPENCL_DEVICE = {
    "no_such": ("there is no OpenCL device {p_i}:{d_i}", None),
    "no_platform": ("{reason}", None),
    "bad_spec": ("bad OpenCL device `{spec}`",
                 "use `cpu`, `gpu`, or `P:D` (platform:device indices from `sym devices`), "
                 "e.g. `0:0`"),
    "none_of_type": ("no OpenCL {type} device found", None),
}


def no_opencl_device(kind, hint=None, **facts) -> SymError:
    """No usable OpenCL device: `kind` picks the wording, `facts` fill it."""
    return _worded("E0801", _NO_OPENCL_DEVICE, kind, None, hint, facts)


def opencl_build_failed(fn_name, description, notes) -> SymError:
    return error("E0802", f"the OpenCL build of `{fn_name}` failed on {description}", None,
                 "this is a bug in sym's OpenCL backend; `--backend numpy` runs the program", notes)


def out_of_device_memory(label, nbytes, mib, description, notes) -> SymError:
    return error("E0803",
                 f"out of device memory for {label}: {nbytes} bytes ({mib:.1f} MiB) on "
                 f"{description}", None,
                 "use smaller batches or tensors, another device (`--device`), or `--backend "
                 "numpy`", notes)


def pyopencl_missing(exc, hint) -> SymError:
    return error("E0804", f"the OpenCL backend needs pyopencl, which is not installed ({exc})",
                 None, hint)


def no_fp64(name, span) -> SymError:
    return error("E0805",
                 f"`{name}` uses f64, which this OpenCL device does not support (no cl_khr_fp64)",
                 span, "use f32, choose another device (`--device`), or `--backend numpy`")


def opencl_not_picklable() -> SymError:
    return error("E0806",
                 "a function or program compiled for OpenCL cannot be pickled: its shared "
                 "values and kernels live on the device", None,
                 "pickle what rebuilds it instead: the shared values (`m.W`, `W.get_value()`) "
                 "and the source or graph, then compile again in the other process (`dsl.load`, "
                 "`dsl.function`)")


# ---- E09xx: usage: backends, files, flags -----------------------------------------
def unknown_backend(backend, backends) -> SymError:
    return error("E0901", f"unknown backend `{backend}`", None, f"choose one of: {backends}")


_CANNOT_READ_PROGRAM = {
    "unreadable": ("cannot read {path}: {reason}", None),
    "not_utf8": ("{path} is not UTF-8 text", None),
}


def cannot_read_program(kind, span, hint=None, **facts) -> SymError:
    """Cannot read the program: `kind` picks the wording, `facts` fill it."""
    return _worded("E0902", _CANNOT_READ_PROGRAM, kind, span, hint, facts)


def no_such_pass(after, passes) -> SymError:
    return error("E0903", f"there is no rewrite pass `{after}`", None,
                 f"the passes, in order: {passes}")


def device_for_numpy(device) -> SymError:
    return error("E0904", f"device `{device}` names an OpenCL device, but the backend is numpy",
                 None,
                 "drop the device, or choose the OpenCL backend (`--backend opencl`, "
                 "`backend=\"opencl\"`)")


def bad_load_argument(message, span, hint=None, notes=()) -> SymError:
    return error("E0905", message, span, hint, notes)


def no_such_def(what, span, hint, notes) -> SymError:
    return error("E0906", f"the program has {what}", span, hint, notes)


def program_not_picklable() -> SymError:
    return error("E0907",
                 "a loaded program cannot be pickled: it holds its interpreter (output "
                 "streams, compiled defs) and, on OpenCL, device buffers", None,
                 "pickle what rebuilds it instead: the shared values (`m.W`) and the "
                 "program's path or source, then `dsl.load` it again in the other process")


# ---- E10xx: the Python tensor API ----------------------------------------------
_NOT_AN_INPUT = {
    "input_name": ("the name of an input must be an identifier, got {name!r}", None),
    "function_input": ("an input of `function` must be an input variable, got {what}",
                       "make inputs with dsl.scalar/vector/matrix/tensor; pass values of shared "
                       "variables with set_value"),
}


def not_an_input(kind, span, hint=None, **facts) -> SymError:
    """A bad input variable: `kind` picks the wording (its name, an input of
    `dsl.function` that is no input variable), `facts` fill it."""
    return _worded("E1001", _NOT_AN_INPUT, kind, span, hint, facts)


_MISSING_INPUT = {
    "input": ("the outputs depend on the input `{label}` ({type}), which is not among the "
              "inputs",
              "add it: `function([..., {label}], ...)`, or give it a value in `.eval({{...}})`"),
    "size_of_input": ("the outputs use the size `{var}`, which no input's shape binds",
                      "add the input it comes from (`{source}`) to the inputs"),
    "size": ("the outputs use the size `{var}`, which no input's shape binds",
             "add an input whose shape has this size"),
}


def missing_input(kind, span, hint=None, **facts) -> SymError:
    """The outputs need an input, or a size of one, that is not given:
    `kind` picks the wording, `facts` fill it."""
    return _worded("E1002", _MISSING_INPUT, kind, span, hint, facts)


def input_given_twice(label, span) -> SymError:
    return error("E1003", f"`{label}` is given twice as an input", span)


def symbolic_value_unknown(what, t, span) -> SymError:
    return error("E1004", f"{what} of a symbolic expression ({t}) is not known until a "
                 "compiled function runs", span,
                 "choose per element with `dsl.where(cond, a, b)`, or compile the expression "
                 "with `dsl.function` (or `.eval()`) and inspect the result")


_BAD_API_ARGUMENT = {
    "no_default_updates": ("`no_default_updates` is True or False, got {got}", None),
    "inputs": ("`inputs` is a list of input variables, got {got}",
               "e.g. `dsl.function([x, y], x + y)`"),
    "updates": ("`updates` is a list of (shared, new value) pairs, got {got}",
                "e.g. `updates=[(W, W - 0.1 * dsl.grad(cost, W))]`"),
    "name": ("`name` is an identifier, got {name!r}", "e.g. `name=\"train\"`"),
    "rewrites": ("`rewrites` is True or False, got {got}", None),
    "eval": ("`eval` takes a dict of input variables to values, got {got}",
             "e.g. `(x * 2).eval({{x: 3.0}})`"),
    "shared_name": ("the name of a shared value is a string, got {name!r}",
                    "e.g. `dsl.shared(np.zeros(3, np.float32), name=\"W\")`"),
    "shape": ("`shape` is a tuple of dimensions, got {shape!r}", "e.g. `shape=(\"n\", 784)`"),
    "two_programs": ("`{label}` belongs to another program than the variables it is used with",
                     "make the variables of one graph inside one `with dsl.graph():` block, "
                     "or all outside"),
}


def bad_api_argument(kind, span, hint=None, notes=(), **facts) -> SymError:
    """A wrong argument to an entry of the tensor API: `kind` picks the
    wording, `facts` fill it."""
    return _worded("E1005", _BAD_API_ARGUMENT, kind, span, hint, facts, notes)


# ---- E11xx: modules and host functions: `import`, `proc` --------------------------
_CANNOT_IMPORT = {
    "cannot_import": ("cannot import `{module}`: {why}", None),
    "there_no_library": ("there is no library module `{module}`", None),
}


def cannot_import(kind, span, hint=None, **facts) -> SymError:
    """Cannot import: `kind` picks the wording, `facts` fill it."""
    return _worded("E1101", _CANNOT_IMPORT, kind, span, hint, facts)


def import_cycle(names, span) -> SymError:
    """`names`: the files of the cycle, the first one again at the end."""
    return error("E1102", "import cycle: " + " imports ".join(f"`{n}`" for n in names), span,
                 "move what both files need into a third file that both import")


def declared_in_two_files(name, first_file, first_kind, file, kind, span, notes) -> SymError:
    return error("E1103",
                 f"`{name}` is declared in `{first_file}` (as {first_kind}) and in `{file}` "
                 f"(as {kind})", span,
                 "imported names join the program's namespace: rename one of them", notes)


def statements_in_import(shown, span) -> SymError:
    return error("E1104", f"`{shown}` is imported, so it may hold only declarations", span,
                 "move host statements into the program, or into a `proc` that the program "
                 "calls")


def host_calls_too_deep(name, depth, span, notes) -> SymError:
    return error("E1105", f"host function `{name}` is called more than {depth} calls deep",
                 span,
                 "host functions may call themselves, but not this deep: use a `for` "
                 "loop", notes)


def host_function_in_def(name, span) -> SymError:
    return error("E1106", f"`{name}` is a host function and cannot be called inside a def", span,
                 "call it at top level or from another host function; inside a def, call "
                 "defs and builtins")


_GROUP_NOT_TENSOR = {
    "return_type": ("`{name}` cannot return a group",
                    "a def returns tensors; a group is updated where it is used"),
    "used_as_tensor": ("`{label}` is a group of {count} values, not one tensor",
                       "use a group in an assignment or an update, which is written once "
                       "for each of its members, or pass it to a def parameter of type "
                       "`group`"),
    "returned": ("a def cannot return a group", "return tensors"),
    "on_host": ("`{name}` is a group of shared values, which exists inside defs only",
                "on the host, read its members by name: {members}"),
}


def group_not_tensor(kind, span, hint=None, **facts) -> SymError:
    """A group where one tensor is needed: `kind` picks the wording, `facts` fill it."""
    return _worded("E1107", _GROUP_NOT_TENSOR, kind, span, hint, facts)


_GROUP_SIZES_DIFFER = {
    "groups_different_sizes": ("groups of different sizes in one statement: `{a}` has "
                               "{value} values, `{b}` has {value2}",
                               "every group in a statement is walked in step: pass groups "
                               "that match (declare state with `shared NAME like GROUP "
                               "= ...`)"),
    "one_value_but": ("`{target}` is one value, but this update is written for each of "
                      "{count} members",
                      "update a group of the same size"),
}


def group_sizes_differ(kind, span, hint=None, **facts) -> SymError:
    """Groups of different sizes in one statement: `kind` picks the wording, `facts` fill it."""
    return _worded("E1108", _GROUP_SIZES_DIFFER, kind, span, hint, facts)


_BAD_GROUP = {
    "member": ("`{name}` is not a shared value declared before this group", None),
    "twice": ("`{name}` is listed twice in the group `{group}`", "list each shared value once"),
    "like": ("`{group}` is not a group of shared values declared before this line",
             "declare the group first: `shared {group} = [W, b]`"),
}


def bad_group(kind, span, hint=None, **facts) -> SymError:
    """A bad group declaration: `kind` picks the wording, `facts` fill it."""
    return _worded("E1109", _BAD_GROUP, kind, span, hint, facts)


_GROUP_PARAMETER_MISUSE = {
    "parameter_takes_group": ("parameter `{pname}` of `{fname}` takes a group of shared "
                              "values",
                              "pass a group's name (`shared params = [W, b]`) or one "
                              "shared value's"),
    "takes_group_shared": ("`{name}` takes a group of shared values, so it is called "
                           "inside a def",
                           "call it as a statement of the def that trains: `{name}(...)` "
                           "on a line of its own there"),
}


def group_parameter_misuse(kind, span, hint=None, **facts) -> SymError:
    """A `group` parameter used wrongly: `kind` picks the wording, `facts` fill it."""
    return _worded("E1110", _GROUP_PARAMETER_MISUSE, kind, span, hint, facts)


# ---- E12xx: random streams --------------------------------------------------------
def stream_type_misplaced(span) -> SymError:
    return error("E1201", "`stream` is the type of a shared random stream only", span,
                 "declare the stream at top level (`shared rng: stream = 234`) and draw "
                 "from it inside the def by its name: `uniform(rng, (n, 10))`")


def stream_as_value(name, span) -> SymError:
    return error("E1202", f"`{name}` is a random stream, not a value", span,
                 f"draw numbers from it: `uniform({name}, shape)`, `normal({name}, shape)`, "
                 f"`bernoulli({name}, shape, p)`")


def stream_update(name, span) -> SymError:
    return error("E1203", f"`{name}` is a random stream: it advances by itself", span,
                 f"each call of a def that draws from `{name}` advances it once; to start "
                 "it again, `load` a checkpoint, or set its value from Python")


_BAD_SEED = {
    "stream": ("the seed of stream `{name}` must be an integer in 0..2**63-1, got {shown}",
               "declare it with a seed: `shared {name}: stream = 234` (an option works too)"),
    "random_streams": ("a stream's seed must be an integer in 0..2**63-1, got {shown}",
                       "e.g. `dsl.RandomStreams(seed=234)`"),
}


def bad_seed(kind, span, hint=None, **facts) -> SymError:
    """A stream's seed out of range: `kind` picks the wording (a declared
    stream, dsl.RandomStreams), `facts` fill it."""
    return _worded("E1204", _BAD_SEED, kind, span, hint, facts)


def draw_outside_def(fname, span, hint) -> SymError:
    return error("E1205", f"`{fname}` draws from a stream only inside a def", span, hint)


def draw_without_stream(fname, span, hint) -> SymError:
    return error("E1206", f"the first argument of `{fname}` must be a random stream", span, hint)


_BAD_PROBABILITY = {
    "literal": ("a probability must be in [0, 1], got {value:g}",
                "`p` is the probability of a 1: e.g. `bernoulli(rng, shape, 1.0 - 0.3)` "
                "keeps 70%"),
    "python": ("a probability must be a number in [0, 1], got {value!r}",
               "`p` is the probability of a 1"),
}


def bad_probability(kind, span, hint=None, **facts) -> SymError:
    """A probability outside [0, 1]: `kind` picks the wording (a literal in
    .sym, a Python value), `facts` fill it."""
    return _worded("E1207", _BAD_PROBABILITY, kind, span, hint, facts)


def grad_wrt_sample(wrt_ast, span) -> SymError:
    return error("E1208", f"`{wrt_ast}` is a random sample: `grad` treats samples as constants",
                 span,
                 "take the gradient with respect to what the sample multiplies or is "
                 "added to (a parameter, a shared value or a bound value)")


_BAD_DRAW_ARGUMENT = {
    "draw_scalar_got": ("`{what}` of a draw must be a {dtype} scalar, got {type}",
                        "draws take one number for each parameter; compute with the samples "
                        "for more: `low + (high - low) * uniform(rng, shape)`"),
    "n_binomial_1": ("`n` of `binomial` must be 1..64, got {n}",
                     "each trial is one draw; for a large `n` use a normal approximation"),
    "integers_needs_low": ("`integers` needs low < high and high - low <= 2**31, got "
                           "[{lo}, {hi})",
                           "the draw is in [low, high): `integers(rng, shape, 0, 10)` "
                           "gives 0..9"),
    "unknown_dtype": ("unknown dtype {dtype!r}", "e.g. dtype=\"float32\" or \"int64\""),
    "binomial_n": ("`n` of `binomial` must be an integer in 1..64, got {n!r}",
                   "each trial is one draw"),
    "float_dtype": ("draws are floats (float32 or float64), got dtype {dtype!r}",
                    "cast the sample for another dtype: `dsl.cast(srng.uniform(size), "
                    "\"int32\")`"),
    "parameter": ("the parameters of a draw are numbers, got {value!r}",
                  "compute with the sample instead: `low + (high - low) * "
                  "srng.uniform(size)`"),
}


def bad_draw_argument(kind, span, hint=None, **facts) -> SymError:
    """A bad argument of a draw: `kind` picks the wording, `facts` fill it."""
    return _worded("E1209", _BAD_DRAW_ARGUMENT, kind, span, hint, facts)


# ---- E13xx: loops in defs ---------------------------------------------------------
_CARRIED_TYPE_CHANGES = {
    "not_one_value": ("`{name}` is carried by the loop but the body sets it to {what}",
                      "a carried value must keep its type {type} on every step"),
    "type": ("`{name}` changes type in the loop: it is {type} before the loop, but the "
             "body sets it to {new}",
             None),
    "scan_output": ("scan output {k} is fed back but changes type: its initial value is "
                    "{type}, the step returns {new}",
                    "make the step return the type of `outputs_info`: cast or reshape"),
}


def carried_type_changes(kind, span, hint=None, notes=(), **facts) -> SymError:
    """A carried value changes type: `kind` picks the wording, `facts` fill it."""
    return _worded("E1301", _CARRIED_TYPE_CHANGES, kind, span, hint, facts, notes)


def update_in_loop(name, span, notes) -> SymError:
    return error("E1302",
                 f"`{name} <- ...` inside a loop: an update is applied once per call, "
                 "not once per step", span,
                 f"carry the new value through the loop (`{name}_new = {name}` before "
                 f"it, `{name}_new = ...` in it) and write `{name} <- {name}_new` after "
                 "the loop", notes)


_BAD_METHOD_CALL = {
    "tensor_method": ("tensors have no method `{method}`",
                      "call a function with the value as its first argument, as in `sum(x, "
                      "axis=0)`; `hs.append(v)` in a loop's body is the one method"),
    "not_a_collector": ("only a list set with `name = []` has `.append`",
                        "collect a loop's values: `hs = []` before the loop, `hs.append(v)` "
                        "in it"),
    "append_as_value": ("`.append(...)` is a statement of its own, not a value",
                        "write `hs.append(v)` on its own line in a loop's body"),
    "host": ("`.{method}(...)` on the host",
             "values have no methods; call a function with the value as its first argument, "
             "as in `sum(x, axis=0)` (`hs.append(v)` collects a loop's steps inside a "
             "def)"),
    "append_count": ("`.append` takes one value, got {count}", None),
    "append_outside_loop": ("`{name}.append(...)` must be directly in the body of a loop "
                            "after `{name} = []`",
                            "a collector collects one loop's steps: set it just before "
                            "that loop"),
    "append_twice": ("`{name}` is appended to twice in one step",
                     "append once per step; collect the other value in another list"),
}


def bad_method_call(kind, span, hint=None, notes=(), **facts) -> SymError:
    """A method call other than a collector's `.append`:
    `kind` picks the wording, `facts` fill it."""
    return _worded("E1303", _BAD_METHOD_CALL, kind, span, hint, facts, notes)


def loop_variable_hides_local(target, span) -> SymError:
    return error("E1304", f"loop variable `{target}` has the name of a local value", span,
                 f"rename the loop variable; inside the loop `{target}` would hide the "
                 "value set before it")


_LOOP_TARGETS_MISMATCH = {
    "zip_names": ("the loop steps through {arrays} array{s} but names {names} variable{s2}", None),
    "range_names": ("`range` gives one value per step, not {names}", "write `for i in range(k):`"),
    "enumerate_loop_takes": ("`enumerate` in a loop takes one array",
                             "write `for t, x in enumerate(xs):`"),
    "enumerate_names": ("`enumerate` gives 2 values per step, not {names}",
                        "write `for t, x in enumerate(xs):`"),
    "zip_loop_takes": ("`zip` in a loop takes arrays", "write `for x, y in zip(xs, ys):`"),
}


def loop_targets_mismatch(kind, span, hint=None, **facts) -> SymError:
    """Loop variables that do not match what the loop steps through:
    `kind` picks the wording, `facts` fill it."""
    return _worded("E1305", _LOOP_TARGETS_MISMATCH, kind, span, hint, facts)


_BAD_LOOP_SEQUENCE = {
    "loop_steps_through": ("a loop steps through axis 0 of an array, but this is a scalar "
                           "({type})",
                           "to run a body k times, write `for i in range(k):`"),
    "lengths": ("the arrays of a loop must have the same length: {first} and {other}",
                "slice the longer one, e.g. `ys[0:n]`, or loop over `range(...)`"),
    "scan_sequence": ("scan steps through axis 0 of each sequence, but one is a scalar ({type})",
                      "pass arrays as `sequences`; repeat a body with `n_steps=k`"),
}


def bad_loop_sequence(kind, span, hint=None, notes=(), **facts) -> SymError:
    """A loop over a scalar, or over arrays of different lengths:
    `kind` picks the wording, `facts` fill it."""
    return _worded("E1306", _BAD_LOOP_SEQUENCE, kind, span, hint, facts, notes)


_BAD_LOOP_COUNT = {
    "range_loop_takes": ("`range` in a loop takes one count",
                         "write `for i in range(k):` (the steps are 0 .. k-1)"),
    "count_loop_integer": ("the count of a loop must be an integer, got {n}",
                           "give a size (`range(n)`), an integer, or an integer argument "
                           "(`k: i32`)"),
    "loop_cannot_run": ("a loop cannot run {n} times", "give a count >= 0"),
    "not_scalar": ("the count of a loop must be an integer scalar, got {type}",
                   "give a size (`range(n)`), an integer, or an integer argument (`k: "
                   "i32`)"),
    "scan_no_count": ("scan needs `sequences` or `n_steps`",
                      "give the number of steps: `n_steps=k` (an int or an integer scalar)"),
    "scan_cannot_run": ("scan cannot run {n} steps", "give n_steps >= 0"),
    "scan_not_scalar": ("`n_steps` must be an integer scalar, got {type}",
                        "e.g. `k = dsl.iscalar('k')`, `n_steps=k`"),
}


def bad_loop_count(kind, span, hint=None, **facts) -> SymError:
    """A bad loop count: `kind` picks the wording, `facts` fill it."""
    return _worded("E1307", _BAD_LOOP_COUNT, kind, span, hint, facts)


def run_time_count_size(what, inner, span, notes) -> SymError:
    """A size bound by a loop with a run-time count where no size may be
    unknown until run time: a def's result, or a value collected in a loop
    (inner: a loop in that loop's body sized it). The size's name (`#steps`
    and a number) is no name a user wrote: it is not shown."""
    why = ("a loop in this loop's body, so its steps could differ in shape" if inner
           else "a loop, which a signature cannot name")
    return error("E1308", f"{what} has a size that is the run-time count of {why}", span,
                 "reduce the stack first (`sum(hs, axis=0)`, `hs[k - 1]`), or loop over an "
                 "array or `range(n)` with a size n", notes)


def collector_read_early(name, span, notes) -> SymError:
    return error("E1309", f"`{name}` holds a loop's collected values only after that loop", span,
                 f"append to it in a loop (`{name}.append(v)`) and read it after the loop", notes)


def leaves_def_loop(kind, span, hint, notes) -> SymError:
    return error("E1311", f"`{kind}` inside a loop of a def", span, hint, notes)


def loop_local_read_after(name, span, notes) -> SymError:
    return error("E1312", f"`{name}` is set only inside a loop's body and is gone after it", span,
                 f"to keep its last value, set `{name}` before the loop so the loop carries "
                 "it; to keep every step's value, collect it with `.append`", notes)


_BAD_IFELSE = {
    "condition_ifelse_bool": ("the condition of `ifelse` must be a bool scalar, got {type}",
                              "compare to get one: `ifelse(sum(x) > 0.0, a, b)`; to choose "
                              "per element use `where(cond, a, b)`"),
    "two_sides_ifelse": ("the two sides of `ifelse` must have one type, got {type} and "
                         "{type2}",
                         "cast or broadcast one side: only one of them is computed, so "
                         "the result has the type of both"),
}


def bad_ifelse(kind, span, hint=None, **facts) -> SymError:
    """A bad `ifelse`: `kind` picks the wording, `facts` fill it."""
    return _worded("E1313", _BAD_IFELSE, kind, span, hint, facts)


_BAD_SCAN_STEP = {
    "updates": ("the updates a scan step returns are not supported",
                "return the values, and update shared variables from the scan's results"),
    "outputs_info": ("`outputs_info` has {infos} entries but the step returns {outs} "
                     "output{s}",
                     "one entry per output: its initial value, or None when it is not fed "
                     "back"),
}


def bad_scan_step(kind, span, hint=None, **facts) -> SymError:
    """A scan step that does not fit `outputs_info`: `kind` picks the wording,
    `facts` fill it."""
    return _worded("E1314", _BAD_SCAN_STEP, kind, span, hint, facts)


def jacobian_of_non_vector(t, span) -> SymError:
    return error("E1315", f"`jacobian` differentiates a vector, got {t}", span,
                 "flatten it first: `jacobian(y.flatten(), x)`")


def negative_loop_count(count, span) -> SymError:
    return error("E1310", f"a loop cannot run {count} times: its count is negative", span,
                 "give a count >= 0 (`range(0)` runs the body no time)")


# ---- E14xx: data parallel on K ranks ----------------------------------------------
def update_depends_on_rows(name, reads, span, notes) -> SymError:
    return error("E1401",
                 f"the update of `{name}` depends on this rank's slice of the minibatch "
                 f"({reads}) other than through a gradient of a mean", span,
                 "compute the new value from gradients (`grad(cost, W)`) and shared values "
                 "only; a statistic of the minibatch (a running mean) differs between "
                 "ranks: return it, or keep it out of the training def", notes)


def cost_not_row_mean(label, span, notes) -> SymError:
    return error("E1402",
                 f"the cost of {label} is not a mean or a sum over the minibatch's rows: "
                 "averaging it over ranks would not give its gradient", span,
                 "write the cost as `mean(...)` (or `sum(...)`) of a value computed row "
                 "by row, plus terms of shared values only", notes)


def grad_wrt_rows(label, span, notes) -> SymError:
    return error("E1403",
                 f"{label} differentiates with respect to a value of this rank's slice "
                 "of the minibatch", span,
                 "differentiate with respect to a shared value (`grad(cost, W)`) when "
                 "the update is to be the same on every rank", notes)


def uncombinable_result(name, span, notes) -> SymError:
    return error("E1404",
                 f"`{name}` updates shared values and returns a value that cannot be combined "
                 "across ranks", span,
                 "return a mean or a sum over the rows, a value per row, or a value of "
                 "shared values only (or do not return it)", notes)


def uneven_minibatch(name, rows, batch, k, span, notes) -> SymError:
    return error("E1405",
                 f"`{name}` is called with {rows} rows (`{batch}` = {rows}), which do "
                 f"not split into {k} equal slices", span,
                 f"use a minibatch size that is a multiple of {k} (the number of ranks), "
                 "or run on a number of ranks that divides it", notes)


def rank_died(who, ranks, pid, how, notes) -> SymError:
    return error("E1406",
                 f"{who} of {ranks} (pid {pid}) {how} before the run ended; the other ranks "
                 "were stopped", None,
                 "look above for the rank's own message; rerun to see whether it repeats", notes)


def ranks_differ(s, ranks, s2, what, notes) -> SymError:
    return error("E1407", f"rank{s} {ranks} run{s2} a different {what} than rank 0", None,
                 "start every rank with the same program, options and flags (the same "
                 "file, the same `--set`, the same sym)", notes)


def mpi4py_missing(p0) -> SymError:
    return error("E1408",
                 f"this process was started by an MPI launcher with {p0} ranks, but mpi4py "
                 "is not installed", None,
                 "install it: `pip install 'sym[mpi]'` (mpi4py and an MPI), or `pip install "
                 "mpi4py` built against the cluster's MPI")


_NO_MPI_LAUNCHER = {
    "ranks_needs_mpiexec": ("--ranks needs `mpiexec`, and none was found",
                            "install an MPI: `pip install 'sym[mpi]'` (mpi4py and the "
                            "mpich wheel), or name the cluster's launcher in ${LAUNCHER} "
                            "(e.g. `{LAUNCHER}=srun`)"),
    "cannot_start": ("cannot start {command}: {reason}", "name a working launcher in ${LAUNCHER}"),
}


def no_mpi_launcher(kind, hint=None, **facts) -> SymError:
    """No MPI launcher: `kind` picks the wording, `facts` fill it."""
    return _worded("E1409", _NO_MPI_LAUNCHER, kind, None, hint, facts)


def shared_values_diverged(rank) -> SymError:
    return error("E1410", f"after the run the shared values on rank {rank} differ from rank 0's",
                 None, "this is a bug in sym's data parallel: please report it with the program")


_UNSPLIT_DRAW = {
    "in_loop": ("`{name}` runs on this rank's rows of the minibatch and draws from `{stream}` "
                "a value of type {type} inside a loop",
                "draw with the rows first, `({batch}, ...)`, no other dimension depending on "
                "`{batch}`, outside loops; or run it on one process (without --ranks)"),
    "rows_not_first": ("`{name}` runs on this rank's rows of the minibatch and draws from "
                       "`{stream}` a value of type {type} whose first dimension is not the "
                       "rows (`{batch}`) alone",
                       "draw with the rows first, `({batch}, ...)`, no other dimension "
                       "depending on `{batch}`, outside loops; or run it on one process "
                       "(without --ranks)"),
}


def unsplit_draw(kind, span, notes, **facts) -> SymError:
    """A draw on the rows that cannot start at the rank's first row: `kind`
    says why (inside a loop, or its rows are not its first dimension)."""
    message, hint = _UNSPLIT_DRAW[kind]
    return error("E1412", message.format(**facts), span, hint.format(**facts), notes)


# ---- W0xx: warnings --------------------------------------------------------------
def def_shadows_builtin(name, span) -> Diagnostic:
    return Diagnostic("W0101", f"def `{name}` shadows the builtin `{name}`", span, (),
                      f"every call `{name}(...)` in this program, in defs and on the host, "
                      f"calls this def; to keep the builtin, rename the def (e.g. `my_{name}`)",
                      "warning")


def value_named_like_builtin(what, name, span) -> Diagnostic:
    return Diagnostic("W0102", f"{what} has the name of the builtin `{name}`", span, (),
                      f"calls `{name}(...)` still call the builtin; another name avoids the "
                      "confusion", "warning")


def unused_assignment(name, span) -> Diagnostic:
    return Diagnostic("W0103", f"`{name}` is assigned but never used", span, (),
                      "remove the assignment, or start the name with `_` if it is unused on "
                      "purpose", "warning")


def both_operands_stretched(symbol, a_type, b_type, out_type, low, padded, span) -> Diagnostic:
    return Diagnostic("W0201",
                      f"both operands of `{symbol}` are stretched: {a_type} {symbol} {b_type} "
                      f"-> {out_type}", span, (),
                      f"if this is intended, make it explicit: reshape the {low} operand to "
                      f"{padded}; otherwise check the shapes", "warning")


# ---- E9999: a bug in sym, not in the program ------------------------------------
def internal_error(exc: BaseException, debug_hint: bool = True) -> SymError:
    return error("E9999", f"internal error: {type(exc).__name__}: {exc}", None,
                 "this is a bug in sym; rerun with SYM_DEBUG=1 for the traceback" if debug_hint
                 else None)


# Diagnostics about how sym was invoked, not about the program: the E09xx
# range (backend, device, files, rewrite passes) and options given with --set.
_USAGE_CODES = ("E09", "E0702", "E0703", "E1409")


def is_usage_error(d: Diagnostic) -> bool:
    return d.code.startswith(_USAGE_CODES)
