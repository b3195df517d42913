"""Checking a whole program: shared values, options, defs, host statements.

`check_program` never raises for a user error: it returns a
`CheckedProgram` whose `diagnostics` hold every error and warning found.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from . import ast as A
from .checker import Globals, check_def, takes_groups, tensor_type
from .diagnostics import Note, SymError
from . import errors
from .hostcheck import BUILTIN_NAMES, HostChecker, value_shadows_builtin
from .modules import Imports, import_notes, resolve_imports
from .parser import parse
from .scope import did_you_mean, literal_value, too_deep
from .types import STREAM, memory_bytes, too_large_message, value_bytes


@dataclass
class OptionInfo:
    name: str
    value: object
    span: object


@dataclass
class CheckedProgram:
    file: str
    ast: A.Program
    shareds: dict = field(default_factory=dict)     # name -> TensorType
    shared_decls: dict = field(default_factory=dict)  # name -> A.SharedDecl
    streams: dict = field(default_factory=dict)     # random streams: name -> A.SharedDecl
    options: dict = field(default_factory=dict)     # name -> OptionInfo
    defs: dict = field(default_factory=dict)        # name -> DefInfo
    procs: dict = field(default_factory=dict)       # name -> A.Proc (host functions)
    groups: dict = field(default_factory=dict)      # name -> names of its shared values
    group_spans: dict = field(default_factory=dict)  # name -> where it is declared
    diagnostics: list = field(default_factory=list)
    # (expression, what the checker found: an IR node, a host type...) for
    # every expression checked, in order; kept only when asked (editors' hover)
    expr_types: list | None = None
    gradients: dict = field(default_factory=dict)   # id(gradient node) -> parallel.GradInfo
    imports: Imports = field(default_factory=Imports)

    @property
    def errors(self):
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self):
        return [d for d in self.diagnostics if d.severity == "warning"]

    @property
    def signatures(self) -> dict[str, str]:
        return {name: info.signature for name, info in self.defs.items()}

    def raise_errors(self):
        if self.errors:
            raise SymError(self.errors)


def check_source(text: str, filename: str = "<input>", options: dict | None = None,
                 record_types: bool = False) -> CheckedProgram:
    """Parse and check; syntax errors come back as diagnostics too.
    record_types: keep each expression's type in `expr_types`."""
    try:
        tree = parse(text, filename)
    except SymError as e:
        return CheckedProgram(filename, A.Program(()), diagnostics=list(e.diagnostics))
    tree, imports = resolve_imports(tree, filename)
    return check_program(tree, filename, options or {}, record_types, imports)


def check_program(tree: A.Program, filename: str, overrides: dict,
                  record_types: bool = False, imports: Imports | None = None) -> CheckedProgram:
    prog = CheckedProgram(filename, tree, expr_types=[] if record_types else None,
                          imports=imports or Imports())
    prog.diagnostics.extend(prog.imports.diagnostics)
    report = prog.diagnostics.append
    tree = prog.ast = A.Program(expand_like(tree.items, report), tree.file)
    def_asts = {}
    for item in tree.items:
        try:
            declare(prog, item, overrides, def_asts)
        except SymError as e:
            report(e.diagnostic)
    unknown = set(overrides) - set(prog.options)
    for name in sorted(unknown):
        report(errors.no_such_option(name,
                                     did_you_mean(name, prog.options)
                                     or f"its options are: {', '.join(prog.options) or 'none'}").diagnostic)
    env = Globals(prog.shareds, {n: o.value for n, o in prog.options.items()}, def_asts, report)
    env.streams = set(prog.streams)
    env.decl_spans = {**{n: o.span for n, o in prog.options.items()},
                      **{n: d.name.span for n, d in prog.shared_decls.items()}}
    env.typed = prog.expr_types
    env.procs = prog.procs
    env.groups = prog.groups
    for name, d in def_asts.items():
        if takes_groups(d):     # checked where it is called, with the groups it is given
            continue
        try:
            prog.defs[name] = check_def(env, d)
        except SymError as e:
            report(e.diagnostic)
        except RecursionError:
            report(too_deep(f"`{name}`", d.name.span))
    prog.gradients = env.gradients
    host = HostChecker(prog, def_asts, report)
    if record_types:
        host.expr = recording(host.expr, prog.expr_types)
    host.check(tree.items)
    # the program's own diagnostics first, then each imported file's, each by position
    prog.diagnostics.sort(key=lambda d: (d.span is None, d.span is not None and d.span.file != filename,
                                         d.span.file if d.span else "",
                                         d.span.line if d.span else 0, d.span.col if d.span else 0))
    prog.diagnostics[:] = [import_notes(d, prog.imports) for d in prog.diagnostics]
    return prog


def recording(expr, found: list):
    """`expr` (a checker's expression method) also noting each result."""
    def expr_noted(e, *args, **kwargs):
        value = expr(e, *args, **kwargs)
        found.append((e, value))
        return value
    return expr_noted


KINDS = {A.SharedDecl: "shared", A.OptionDecl: "option", A.Def: "def", A.Proc: "proc",
         A.SharedGroup: "group"}


def declare(prog, item, overrides, def_asts):
    if isinstance(item, tuple(KINDS)):
        check_new_name(prog, item, def_asts)
    if isinstance(item, A.Proc):
        prog.procs[item.name.id] = item
    if isinstance(item, A.SharedGroup):
        prog.groups[item.name.id] = group_members(prog, item)
    if isinstance(item, A.SharedDecl):
        name = item.name.id

        def no_sizes(size, span):
            raise errors.shared_size_variable(name, size, span)
        if item.type.dtype == "stream":     # state like a shared value: (seed, calls)
            prog.streams[name] = item
            prog.shareds[name] = STREAM
        else:
            prog.shareds[name] = tensor_type(item.type, no_sizes)
        prog.shared_decls[name] = item
        t = prog.shareds[name]
        nbytes = value_bytes(t.concrete_shape({}), t.dtype)
        if nbytes > memory_bytes():
            raise errors.out_of_memory("too_large", item.type.span,
                                       "use smaller sizes; a shared value must fit in memory",
                                       reason=too_large_message(t, nbytes))
    elif isinstance(item, A.OptionDecl):
        name = item.name.id
        value = literal_value(item.value)
        if value is None and isinstance(item.value, A.Str):
            value = item.value.value
        if value is None:
            raise errors.option_not_literal(name, item.value.span)
        if not option_in_range(value):
            prog.options[name] = OptionInfo(name, value, item.span)   # no follow-on "unknown name"
            what = f"the integer {value}" if isinstance(value, int) else "this float literal"
            raise errors.number_out_of_range("option", item.value.span, what=what,
                                             dtype='i64' if isinstance(value, int) else 'f64')
        if name in overrides:
            prog.options[name] = OptionInfo(name, value, item.span)   # kept if the override is refused
            value = convert_option(name, overrides[name], value, item)
        prog.options[name] = OptionInfo(name, value, item.span)
    elif isinstance(item, A.Def):
        def_asts[item.name.id] = item


def check_new_name(prog, item, def_asts):
    """Defs, shared values and options share one namespace: a name is
    declared once. A def may take a builtin's name on purpose (a warning);
    a value named like a builtin leaves calls to the builtin (a warning)."""
    name, kind = item.name.id, KINDS[type(item)]
    earlier = earlier_declaration(prog, def_asts, name)
    if earlier is not None:
        first_kind, first_span = earlier
        clash_across_files(prog, name, kind, item.name.span, first_kind, first_span)
        if first_kind != kind:
            raise errors.declared_twice("other_kind", item.name.span,
                                        notes=[Note(f"first declared here (as {first_kind})", first_span)],
                                        name=name, first_kind=first_kind, entity=kind)
        if kind == "def":
            raise errors.declared_twice("def", item.name.span,
                                        notes=[Note("first defined here", first_span)], name=name)
        raise errors.declared_twice("same_kind", item.name.span,
                                    f"`--set {name}=VALUE` changes an option for a run" if kind == "option" else None,
                                    [Note("first declared here", first_span)], entity=kind, name=name)
    if name not in BUILTIN_NAMES:
        return
    if kind == "def":
        prog.diagnostics.append(errors.def_shadows_builtin(name, item.name.span))
    else:
        prog.diagnostics.append(value_shadows_builtin(f"{kind} `{name}`", name, item.name.span))


def earlier_declaration(prog, def_asts, name):
    if name in prog.shared_decls:
        return "shared", prog.shared_decls[name].name.span
    if name in prog.options:
        return "option", prog.options[name].span
    if name in def_asts:
        return "def", def_asts[name].name.span
    if name in prog.procs:
        return "proc", prog.procs[name].name.span
    if name in prog.group_spans:
        return "group", prog.group_spans[name]
    return None


# ---- groups of shared values ------------------------------------------------------
def expand_like(items, report) -> tuple:
    """`shared velocity like params = zeros()`: one shared declaration per
    member of `params` (`velocity_W` of W's type, ...) and the group
    `velocity` of them, in the declaration's place."""
    decls, groups, out = {}, {}, []
    for item in items:
        if isinstance(item, A.SharedDecl):
            decls[item.name.id] = item
        elif isinstance(item, A.SharedGroup):
            groups[item.name.id] = [m.id for m in item.members]
        elif isinstance(item, A.SharedLike):
            name, span = item.name.id, item.name.span
            members = groups.get(item.group.id)
            if members is None or not all(m in decls for m in members):
                report(errors.bad_group("like", item.group.span, group=item.group.id).diagnostic)
                continue
            new = [A.SharedDecl(A.Name(f"{name}_{m}", span), decls[m].type, item.init, item.span)
                   for m in members]
            for d in new:
                decls[d.name.id] = d
            groups[name] = [d.name.id for d in new]
            out.extend(new)
            item = A.SharedGroup(item.name, tuple(d.name for d in new), item.span)
        out.append(item)
    return tuple(out)


def group_members(prog, item: A.SharedGroup) -> tuple[str, ...]:
    prog.group_spans[item.name.id] = item.name.span
    names = [m.id for m in item.members]
    for i, m in enumerate(item.members):
        if m.id not in prog.shareds:
            raise errors.bad_group("member", m.span,
                                   did_you_mean(m.id, prog.shareds) or "a group lists shared values declared above it",
                                   name=m.id)
        if m.id in names[:i]:
            raise errors.bad_group("twice", m.span, name=m.id, group=item.name.id)
    return tuple(names)


def clash_across_files(prog, name, kind, span, first_kind, first_span):
    """A name declared in two files (the program and a file it imports, or
    two imported files) is an error at the import line that brought the
    later declaration in, with a note at each declaration."""
    if span.file == first_span.file:
        return
    later = span if span.file != prog.file else first_span
    where = prog.imports.top_import(later.file)
    raise errors.declared_in_two_files(name, first_span.file, first_kind, span.file, kind,
                                       where or span,
                                       [Note(f"`{name}` is declared here", first_span), Note(f"and here", span)])


def convert_option(name, given, default, item):
    """Type-check an override (`--set epochs=5`) against the literal's type."""
    kind = type(default)
    if isinstance(given, str) and kind is not str:
        try:
            given = {bool: lambda s: {"true": True, "false": False}[s.lower()],
                     int: int, float: float}[kind](given)
        except (KeyError, ValueError):
            raise errors.option_wrong_type(name, kind.__name__, given, item.span,
                                           f"its default is {default!r}")
    if kind is float and isinstance(given, int) and not isinstance(given, bool):
        given = float(given)
    if type(given) is not kind or not option_in_range(given):
        raise errors.option_wrong_type(name, kind.__name__, given, item.span,
                                       f"its default is {default!r}" + "; give a finite number"
                                       * (kind is float) + "; integers are i64" * (kind is int))
    return given


def option_in_range(value) -> bool:
    """Options are numbers like literals: a finite float, an i64 integer."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return -2 ** 63 <= value < 2 ** 63
    return True
