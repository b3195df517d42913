"""One constructor for each diagnostic code: the only place a code is written.

A constructor is named for the mistake and takes what varies between its
uses (names, types, spans); it returns the SymError to raise (a warning's
returns its Diagnostic). docs/errors.md documents each code, and
tests/test_error_catalog.py keeps the two in step and the codes out of
every other module.
"""
from __future__ import annotations

from .diagnostics import Diagnostic, SymError, error


# ---- E00xx: syntax (the parser) ---------------------------------------------------
def unexpected_token(message, span, hint=None, notes=()) -> SymError:
    return error("E0001", message, span, hint, notes)


def unclosed_bracket(char, p1, span) -> SymError:
    return error("E0002", f"unclosed `{char}`", span, f"add the missing `{p1}`")


def missing_colon(after, span, hint) -> SymError:
    return error("E0003", f"missing `:` after {after}", span, hint)


def bad_indentation(message, span, hint=None, notes=()) -> SymError:
    return error("E0004", message, span, hint, notes)


def unexpected_end(span, hint) -> SymError:
    return error("E0005", "unexpected end of input", span, hint)


def invalid_character(message, span, hint=None, notes=()) -> SymError:
    return error("E0006", message, span, hint, notes)


def invalid_type(message, span, hint=None, notes=()) -> SymError:
    return error("E0007", message, span, hint, notes)


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
    message, default_hint = _ARGUMENT_COUNTS[kind]
    return error("E0103", message.format(**facts), span,
                 hint or default_hint and default_hint.format(**facts), notes)


_KEYWORD_ARGUMENTS = {
    "unknown": ("`{fname}` has no argument `{key}`", None),
    "two_named": ("`{fname}` has two arguments named `{key}`", "pass them by position"),
    "twice": ("`{fname}` got argument `{key}` twice", "pass it by position or by name, not both"),
    "def_positional_only": ("defs take positional arguments only (`{name}`)", None),
    "proc_positional_only": ("host functions take positional arguments only (`{name}`)", None),
    "builtin_unknown": ("`{fname}` has no parameter `{name}`", None),
    "builtin_twice": ("`{fname}` got `{name}` twice", "usage: {usage}"),
}


def bad_keyword_argument(kind, span, hint=None, notes=(), **facts) -> SymError:
    """A keyword argument that is unknown, repeated, or not taken: `kind` picks the
    wording, `facts` fill it."""
    message, default_hint = _KEYWORD_ARGUMENTS[kind]
    return error("E0104", message.format(**facts), span,
                 hint or default_hint and default_hint.format(**facts), notes)


def not_a_function(message, span, hint=None, notes=()) -> SymError:
    return error("E0106", message, span, hint, notes)


def outside_a_loop(word, span) -> SymError:
    return error("E0107", f"`{word}` outside a loop", span)


def recursion(name, p1, span) -> SymError:
    return error("E0108", f"`{name}` calls itself ({p1})", span,
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
    message, default_hint = _UNPACK_COUNTS[kind]
    return error("E0110", message.format(**facts), span,
                 hint or default_hint and default_hint.format(**facts))


_ATTRIBUTES = {
    "tensor": ("tensors have no attribute `{attr}`", "tensor attributes are `.T` and `.shape`"),
    "value": ("{value} has no attribute `{attr}`", None),
    "field": ("{record} has no field `{attr}`", None),
}


def unknown_attribute(kind, span, hint=None, **facts) -> SymError:
    """`.name` that the value does not have: `kind` picks the wording, `facts` fill it."""
    message, default_hint = _ATTRIBUTES[kind]
    return error("E0111", message.format(**facts), span,
                 hint or default_hint and default_hint.format(**facts))


def host_builtin_in_def(name, span) -> SymError:
    return error("E0112", f"`{name}` is a host builtin and cannot be called inside a def", span,
                 "call it at top level")


def parameter_twice(n, name, span) -> SymError:
    return error("E0113", f"parameter `{n}` appears twice in `{name}`", span)


def not_a_host_statement(message, span, hint=None, notes=()) -> SymError:
    return error("E0114", message, span, hint, notes)


def declared_twice(message, span, hint=None, notes=()) -> SymError:
    return error("E0115", message, span, hint, notes)


def nested_too_deeply(what, span) -> SymError:
    return error("E0116", f"{what} is nested too deeply to check", span,
                 "split the long expression into several assignments: `a = ...`, `b = "
                 "a + ...`")


def host_assigns_declared_name(message, span, hint=None, notes=()) -> SymError:
    return error("E0117", message, span, hint, notes)


def def_hides_global(what, name, name2, kind, span, hint, notes) -> SymError:
    return error("E0118", f"{what} `{name}` of `{name2}` has the name of the {kind} `{name}`", span,
                 hint, notes)


def statement_after_return(message, span, hint=None, notes=()) -> SymError:
    return error("E0119", message, span, hint, notes)


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


def matmul_shapes(message, hint=None, notes=()) -> SymError:
    return error("E0202", message, None, hint, notes)


def signature_mismatch(message, span, hint=None, notes=()) -> SymError:
    return error("E0203", message, span, hint, notes)


def return_mismatch(message, span, hint=None, notes=()) -> SymError:
    return error("E0204", message, span, hint, notes)


def float_widths_mixed(message, span, hint) -> SymError:
    return error("E0205", message, span, hint)


def kinds_mixed(message, span, hint=None, notes=()) -> SymError:
    return error("E0206", message, span, hint, notes)


def wrong_number_kind(message, hint=None, notes=()) -> SymError:
    return error("E0207", message, None, hint, notes)


def reshape_count(t, p1, p2, p3) -> SymError:
    return error("E0208", f"cannot reshape {t} into {p1}: {p2} elements vs {p3}", None,
                 "the number of elements must stay the same")


def bool_mismatch(message, span, hint=None, notes=()) -> SymError:
    return error("E0209", message, span, hint, notes)


def axis_out_of_range(message, span, hint=None, notes=()) -> SymError:
    return error("E0210", message, span, hint, notes)


def unbound_size(message, span, hint=None, notes=()) -> SymError:
    return error("E0211", message, span, hint, notes)


def shared_size_variable(name, size, span) -> SymError:
    return error("E0212", f"shared `{name}` has the size variable `{size}` in its type", span,
                 "a shared value's shape is fixed: write the number, e.g. `f32[784, 10]`")


def not_a_constant(message, span, hint=None, notes=()) -> SymError:
    return error("E0213", message, span, hint, notes)


def shape_not_static(message, span, hint=None, notes=()) -> SymError:
    return error("E0214", message, span, hint, notes)


def not_a_tensor(message, span, hint=None, notes=()) -> SymError:
    return error("E0215", message, span, hint, notes)


def bad_tensor_literal(message, span, hint=None, notes=()) -> SymError:
    return error("E0216", message, span, hint, notes)


def needs_tensor_tuple(name, span) -> SymError:
    return error("E0217", f"`{name}` takes a tuple of tensors: `{name}((a, b), axis=0)`", span)


def number_out_of_range(message, span, hint=None, notes=()) -> SymError:
    return error("E0218", message, span, hint, notes)


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


def out_of_memory(message, span, hint=None, notes=()) -> SymError:
    return error("E0221", message, span, hint, notes)


def conv_channels_differ(x, p1, k, p3) -> SymError:
    return error("E0230",
                 f"`conv2d` channels differ: the image {x} has {p1} channels, the filters "
                 f"{k} expect {p3}", None,
                 "axis 1 of both is the channel count: filters are f[out_channels, in_channels, "
                 "kh, kw]")


def filters_too_large(x, name, p2, k, p4) -> SymError:
    return error("E0231",
                 "`conv2d` in valid mode needs filters no larger than the image: image "
                 f"{x} has {name} {p2}, filters {k} have {p4}", None,
                 "use smaller filters, pad the image, or `mode=\"full\"`")


def pool_window_too_large(what, p1, x, name, p4, p5) -> SymError:
    return error("E0232", f"`{what}` window {p1} is larger than its input {x} ({name} {p4} < {p5})",
                 None,
                 "use a smaller window, or `ignore_border=false` to pool the partial "
                 "window")


def stride_not_whole(what, x, p2, stride) -> SymError:
    return error("E0233",
                 f"`{what}` of {x} cannot size its result: ({p2}) // {stride} is not a "
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


def bad_window_argument(message, span, hint=None, notes=()) -> SymError:
    return error("E0237", message, span, hint, notes)


def bad_after(message, span, hint=None, notes=()) -> SymError:
    return error("E0238", message, span, hint, notes)


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
def mask_indexing(type, span) -> SymError:
    return error("E0301",
                 f"boolean mask indexing is not supported: the mask has type {type} and "
                 "the result's size would depend on the data", span,
                 "keep the shape static: `where(mask, x, 0.0)`, or reduce with the mask: "
                 "`sum(where(mask, x, 0.0))`")


def constant_index_out_of_range(message, span, hint=None, notes=()) -> SymError:
    return error("E0302", message, span, hint, notes)


def too_many_indices(p0, type, rank, span) -> SymError:
    return error("E0303", f"too many indices: {p0} for {type} (rank {rank})", span,
                 "index at most one position per dimension")


def non_integer_index(message, span, hint=None, notes=()) -> SymError:
    return error("E0304", message, span, hint, notes)


def unsupported_indexing(message, span, hint=None, notes=()) -> SymError:
    return error("E0305", message, span, hint, notes)


# ---- E04xx: `grad` ----------------------------------------------------------------
def cost_independent(name, span) -> SymError:
    return error("E0403", f"the cost does not depend on `{name}`", span,
                 f"its gradient would be zero everywhere; check that `{name}` is used "
                 "in the cost")


def no_gradient_rule(message, span, hint=None, notes=()) -> SymError:
    return error("E0404", message, span, hint, notes)


def grad_wrt_non_float(name, type, span) -> SymError:
    return error("E0405", f"cannot differentiate with respect to `{name}` of type {type}", span,
                 "gradients exist only for float values")


def grad_wrt_not_a_name(span) -> SymError:
    return error("E0406", "the second argument of `grad` must be a name", span,
                 "name a parameter, a shared value or a bound value: `grad(cost, W)`")


def cost_not_scalar(t, span) -> SymError:
    return error("E0401", f"`grad` needs a scalar cost, got {t}", span,
                 "reduce it first: `grad(sum(...), W)` or `grad(mean(...), W)`")


def cost_not_float(t, span) -> SymError:
    return error("E0402", f"`grad` needs a float cost, got {t}", span, "cast the cost: `f32(...)`")


# ---- E05xx: shared values and updates ---------------------------------------------
def update_of_non_shared(message, span, hint=None, notes=()) -> SymError:
    return error("E0501", message, span, hint, notes)


def update_type_mismatch(name, type, want, span, hint) -> SymError:
    return error("E0502", f"update of `{name}` has type {type}, but `{name}` is {want}", span, hint)


def update_outside_def(target, span) -> SymError:
    return error("E0503", f"`{target} <- ...` outside a def: updates happen when a def returns",
                 span,
                 "put the update in a def and call that def here; to replace the value "
                 "now, load a checkpoint or set it from Python")


def updating_def_called_in_def(name, name2, span, hint, notes=()) -> SymError:
    return error("E0504", f"`{name}` updates `{name2}` and so cannot be called from another def",
                 span, hint, notes)


def updated_twice(name, name2, span, notes) -> SymError:
    return error("E0505", f"`{name}` is updated twice in `{name2}`", span,
                 "combine the two updates into one expression", notes)


# ---- E06xx: host values and run-time checks ---------------------------------------
def host_call_mismatch(message, span, hint=None, notes=()) -> SymError:
    return error("E0602", message, span, hint, notes)


def index_out_of_range(message, span, hint=None, notes=()) -> SymError:
    return error("E0603", message, span, hint, notes)


def run_time_argument_mismatch(message, span, hint=None, notes=()) -> SymError:
    return error("E0604", message, span, hint, notes)


def shared_value_mismatch(message, span, hint=None, notes=()) -> SymError:
    return error("E0605", message, span, hint, notes)


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
    message, default_hint = _HOST_OPERATIONS[kind]
    return error("E0606", message.format(**facts), span,
                 hint or default_hint and default_hint.format(**facts))


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


def option_wrong_type(name, __name__, given, span, hint) -> SymError:
    return error("E0703", f"option `{name}` is {__name__}, cannot set it to {given!r}", span, hint)


# ---- E08xx: the OpenCL backend ----------------------------------------------------
def no_opencl_device(message, hint=None, notes=()) -> SymError:
    return error("E0801", message, None, hint, notes)


def opencl_build_failed(fn_name, description, notes) -> SymError:
    return error("E0802", f"the OpenCL build of `{fn_name}` failed on {description}", None,
                 "this is a bug in sym's OpenCL backend; `--backend numpy` runs the program", notes)


def out_of_device_memory(label, nbytes, p2, description, notes) -> SymError:
    return error("E0803",
                 f"out of device memory for {label}: {nbytes} bytes ({p2:.1f} MiB) on "
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
def unknown_backend(backend, p1) -> SymError:
    return error("E0901", f"unknown backend `{backend}`", None, f"choose one of: {p1}")


def cannot_read_program(message, span, hint=None, notes=()) -> SymError:
    return error("E0902", message, span, hint, notes)


def no_such_pass(after, p1) -> SymError:
    return error("E0903", f"there is no rewrite pass `{after}`", None,
                 f"the passes, in order: {p1}")


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


# ---- E11xx: modules and host functions: `import`, `proc` --------------------------
def cannot_import(message, span, hint=None, notes=()) -> SymError:
    return error("E1101", message, span, hint, notes)


def import_cycle(message, span, hint=None, notes=()) -> SymError:
    return error("E1102", message, span, hint, notes)


def declared_in_two_files(name, file, first_kind, file2, kind, span, notes) -> SymError:
    return error("E1103",
                 f"`{name}` is declared in `{file}` (as {first_kind}) and in `{file2}` "
                 f"(as {kind})", span,
                 "imported names join the program's namespace: rename one of them", notes)


def statements_in_import(shown, span) -> SymError:
    return error("E1104", f"`{shown}` is imported, so it may hold only declarations", span,
                 "move host statements into the program, or into a `proc` that the program "
                 "calls")


def host_calls_too_deep(name, MAX_PROC_DEPTH, span, notes) -> SymError:
    return error("E1105", f"host function `{name}` is called more than {MAX_PROC_DEPTH} calls deep",
                 span,
                 "host functions may call themselves, but not this deep: use a `for` "
                 "loop", notes)


def host_function_in_def(name, span) -> SymError:
    return error("E1106", f"`{name}` is a host function and cannot be called inside a def", span,
                 "call it at top level or from another host function; inside a def, call "
                 "defs and builtins")


def group_not_tensor(message, span, hint=None, notes=()) -> SymError:
    return error("E1107", message, span, hint, notes)


def group_sizes_differ(message, span, hint=None, notes=()) -> SymError:
    return error("E1108", message, span, hint, notes)


def bad_group(message, span, hint=None, notes=()) -> SymError:
    return error("E1109", message, span, hint, notes)


def group_parameter_misuse(message, span, hint=None, notes=()) -> SymError:
    return error("E1110", message, span, hint, notes)


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


def bad_seed(name, shown, span) -> SymError:
    return error("E1204",
                 f"the seed of stream `{name}` must be an integer in 0..2**63-1, got {shown}", span,
                 f"declare it with a seed: `shared {name}: stream = 234` (an option works "
                 "too)")


def draw_outside_def(fname, span, hint) -> SymError:
    return error("E1205", f"`{fname}` draws from a stream only inside a def", span, hint)


def draw_without_stream(fname, span, hint) -> SymError:
    return error("E1206", f"the first argument of `{fname}` must be a random stream", span, hint)


def bad_probability(value, span) -> SymError:
    return error("E1207", f"a probability must be in [0, 1], got {value:g}", span,
                 "`p` is the probability of a 1: e.g. `bernoulli(rng, shape, 1.0 - 0.3)` "
                 "keeps 70%")


def grad_wrt_sample(wrt_ast, span) -> SymError:
    return error("E1208", f"`{wrt_ast}` is a random sample: `grad` treats samples as constants",
                 span,
                 "take the gradient with respect to what the sample multiplies or is "
                 "added to (a parameter, a shared value or a bound value)")


def bad_draw_argument(message, span, hint=None, notes=()) -> SymError:
    return error("E1209", message, span, hint, notes)


# ---- E13xx: loops in defs ---------------------------------------------------------
def carried_type_changes(message, span, hint=None, notes=()) -> SymError:
    return error("E1301", message, span, hint, notes)


def update_in_loop(name, span, notes) -> SymError:
    return error("E1302",
                 f"`{name} <- ...` inside a loop: an update is applied once per call, "
                 "not once per step", span,
                 f"carry the new value through the loop (`{name}_new = {name}` before "
                 f"it, `{name}_new = ...` in it) and write `{name} <- {name}_new` after "
                 "the loop", notes)


def bad_method_call(message, span, hint=None, notes=()) -> SymError:
    return error("E1303", message, span, hint, notes)


def loop_variable_hides_local(target, span) -> SymError:
    return error("E1304", f"loop variable `{target}` has the name of a local value", span,
                 f"rename the loop variable; inside the loop `{target}` would hide the "
                 "value set before it")


def loop_targets_mismatch(message, span, hint=None, notes=()) -> SymError:
    return error("E1305", message, span, hint, notes)


def bad_loop_sequence(message, span, hint=None, notes=()) -> SymError:
    return error("E1306", message, span, hint, notes)


def bad_loop_count(message, span, hint=None, notes=()) -> SymError:
    return error("E1307", message, span, hint, notes)


def collect_run_time_loop(name, span, notes) -> SymError:
    return error("E1308",
                 f"`{name}` collects the steps of a loop whose count is known only at "
                 "run time", span,
                 "the stack's leading size must be a size: loop over an array or `range(n)` "
                 "with a size n; or carry the value instead of collecting it", notes)


def collector_read_early(name, span, notes) -> SymError:
    return error("E1309", f"`{name}` holds a loop's collected values only after that loop", span,
                 f"append to it in a loop (`{name}.append(v)`) and read it after the loop", notes)


def leaves_def_loop(kind, span, hint, notes) -> SymError:
    return error("E1311", f"`{kind}` inside a loop of a def", span, hint, notes)


def loop_local_read_after(name, span, notes) -> SymError:
    return error("E1312", f"`{name}` is set only inside a loop's body and is gone after it", span,
                 f"to keep its last value, set `{name}` before the loop so the loop carries "
                 "it; to keep every step's value, collect it with `.append`", notes)


def bad_ifelse(message, span, hint=None, notes=()) -> SymError:
    return error("E1313", message, span, hint, notes)


def negative_loop_count(count, span) -> SymError:
    return error("E1310", f"a loop cannot run {count} times: its count is negative", span,
                 "give a count >= 0 (`range(0)` runs the body no time)")


# ---- E14xx: data parallel on K ranks ----------------------------------------------
def update_depends_on_rows(name, p1, span, notes) -> SymError:
    return error("E1401",
                 f"the update of `{name}` depends on this rank's slice of the minibatch "
                 f"({p1}) other than through a gradient of a mean", span,
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


def rank_died(who, ranks, p2, how, notes) -> SymError:
    return error("E1406",
                 f"{who} of {ranks} (pid {p2}) {how} before the run ended; the other ranks "
                 "were stopped", None,
                 "look above for the rank's own message; rerun to see whether it repeats", notes)


def ranks_differ(p0, ranks, p2, what, notes) -> SymError:
    return error("E1407", f"rank{p0} {ranks} run{p2} a different {what} than rank 0", None,
                 "start every rank with the same program, options and flags (the same "
                 "file, the same `--set`, the same sym)", notes)


def mpi4py_missing(p0) -> SymError:
    return error("E1408",
                 f"this process was started by an MPI launcher with {p0} ranks, but mpi4py "
                 "is not installed", None,
                 "install it: `pip install 'sym[mpi]'` (mpi4py and an MPI), or `pip install "
                 "mpi4py` built against the cluster's MPI")


def no_mpi_launcher(message, hint=None, notes=()) -> SymError:
    return error("E1409", message, None, hint, notes)


def shared_values_diverged(p0) -> SymError:
    return error("E1410", f"after the run the shared values on rank {p0} differ from rank 0's",
                 None, "this is a bug in sym's data parallel: please report it with the program")


def draws_on_rank_rows(name, stream, span, notes) -> SymError:
    return error("E1411",
                 f"`{name}` draws from the stream `{stream}` on this rank's rows of the "
                 "minibatch", span,
                 "run it on one process (without --ranks); random streams are not split "
                 "between ranks", notes)


# ---- W0xx: warnings --------------------------------------------------------------
def def_shadows_builtin(name, span) -> Diagnostic:
    return Diagnostic("W0101", f"def `{name}` shadows the builtin `{name}`", span, tuple(()),
                      f"every call `{name}(...)` in this program, in defs and on the host, "
                      f"calls this def; to keep the builtin, rename the def (e.g. `my_{name}`)",
                      "warning")


def value_named_like_builtin(what, name, span) -> Diagnostic:
    return Diagnostic("W0102", f"{what} has the name of the builtin `{name}`", span, tuple(()),
                      f"calls `{name}(...)` still call the builtin; another name avoids the "
                      "confusion", "warning")


def unused_assignment(name, span) -> Diagnostic:
    return Diagnostic("W0103", f"`{name}` is assigned but never used", span, tuple(()),
                      "remove the assignment, or start the name with `_` if it is unused on "
                      "purpose", "warning")


def both_operands_stretched(symbol, type, type2, type22, low, padded, span) -> Diagnostic:
    return Diagnostic("W0201",
                      f"both operands of `{symbol}` are stretched: {type} {symbol} {type2} "
                      f"-> {type22}", span, tuple(()),
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
