"""Which nodes get a buffer, and which are computed inline inside a kernel.

A kernel computes one *root* node over its output shape; every node it
reads that has no buffer is recomputed inline at the index it is needed
(elementwise chains, broadcasting, transposes, slices, gathers, and small
reductions become index arithmetic and loops inside one kernel). A node
gets a buffer ("is materialised") when

  - it is a leaf (param, shared), a function root, or an op that needs its
    own kernel shape (matmul, softmax, log_softmax);
  - a matmul reads it (through at most a reshape and a transpose, which
    stay index arithmetic: `matmul(transpose(x), g)` reads x as stored);
  - it would be computed inside two different kernels, unless recomputing
    it is cheaper than a buffer (constants, sizes, views of buffers);
  - it is a loop (a reduction, logsumexp, a general scatter_add) that its
    kernel would recompute for several output elements;
  - it checks data-dependent indices (gather, one_hot) or integer exponents
    (pow) and its reader would look at only some of its elements (a slice,
    a gather's source): numpy checks every element, so we compute each once;
  - inlining it would put more than INLINE_LIMIT inlined nodes other than
    elementwise ones on one path below a kernel root: the kernel writer
    recurses through those (it walks elementwise chains with a stack).

A *deep* graph (more than DEEP_LEVELS levels: a def of thousands of
straight-line assignments and its gradient) is cut into kernels of at most
INLINE_LIMIT levels, elementwise nodes included: pocl's compile time grows
faster than linearly with a kernel's length. There, an elementwise value
that several kernels read is stored only every INLINE_LIMIT levels (a
checkpoint) and recomputed from the last checkpoint by each reader in
between: storing each one would make a kernel per line.

A matmul read exactly at the output index of an elementwise root becomes
that kernel's *core* (the root is its epilogue: `W - lr * (x.T @ g)` is one
kernel); likewise a big reduction becomes the core of a work-group tree
reduction kernel.

The renderer then writes consecutive elementwise roots of one shape (an
LSTM step's gates, cell and state) as one kernel with an output each
(render.map_groups), when each reads the others only at its own index.

Before that, `cse` merges equal subgraphs (autodiff repeats them) and
`share_row_ops` computes softmax(x) as exp(log_softmax(x)) when both exist.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from dsl.build import apply
from dsl.ir import Node, toposort, with_inputs
from dsl.ops import ARG_REDUCE, ELEMENTWISE, EXTERNAL, LOOPS, REDUCE, Op, ROWS, VIEWS
from dsl.types import Size, broadcast_shapes

# convolutions read their inputs as buffers and may be the core of an epilogue, like matmul
CONVS = (Op.CONV2D, Op.CONV2D_GRAD_X, Op.CONV2D_GRAD_K)
CORES = (Op.MATMUL,) + CONVS
ALWAYS = CORES + ROWS
CHECKS_INDICES = ("gather", "one_hot", "scatter_add")
ELEMENTWISE_OPS = set(ELEMENTWISE)
SMALL_EXTENT = 16      # a reduction this short is recomputed rather than stored
TREE_MIN_EXTENT = 1024  # a reduction at least this long, with few outputs,
TREE_MAX_OUTPUTS = 64   # uses a work-group tree
INLINE_LIMIT = 64      # inlined nodes on one path below a kernel root (see above)
DEEP_LEVELS = 256      # graphs deeper than this are cut into kernels of INLINE_LIMIT levels


def cse(roots: list[Node]) -> list[Node]:
    """Merge structurally equal nodes (autodiff repeats whole subgraphs) and
    drop no-op reshapes, broadcasts and casts."""
    table: dict[Node, Node] = {}
    new: dict[int, Node] = {}
    for n in toposort(roots):
        inputs = tuple(new[id(i)] for i in n.inputs)
        if n.op in ("reshape", "broadcast_to", "sum_to") and inputs[0].type == n.type:
            new[id(n)] = inputs[0]
            continue
        if n.op == "cast" and inputs[0].type == n.type:
            new[id(n)] = inputs[0]
            continue
        m = n if all(a is b for a, b in zip(inputs, n.inputs)) else \
            Node(n.op, inputs, n.type, n.attrs, n.span)
        new[id(n)] = table.setdefault(m, m)
    return [new[id(r)] for r in roots]


def share_row_ops(roots: list[Node], origin: dict) -> list[Node]:
    """softmax(x) next to log_softmax(x) (a loss and its gradient) becomes
    exp(log_softmax(x)): one row kernel instead of two (equal to a few ulp).
    origin[id(new node)] records the node each rebuilt one stands for."""
    logs = {(id(n.inputs[0]), n.attr("axis")): n for n in toposort(roots) if n.op == "log_softmax"}
    if not logs:
        return roots
    new: dict[int, Node] = {}
    for n in toposort(roots):
        inputs = tuple(new[id(i)] for i in n.inputs)
        ls = logs.get((id(inputs[0]), n.attr("axis"))) if n.op == "softmax" else None
        m = apply("exp", (ls,), n.span) if ls is not None else with_inputs(n, inputs)
        if m is not n:
            origin[id(m)] = n
        new[id(n)] = m
    return [new[id(r)] for r in roots]


def reduced_extent(n: Node):
    """The number of input elements each output element of a loop reads
    (an int, or None when it depends on a size variable)."""
    x = n.inputs[0]
    if n.op == "scatter_add":
        # every position of the (broadcast) index arrays
        dims = ()
        for i in n.inputs[1:]:
            dims = broadcast_shapes(dims, i.type.shape)
    elif n.op in ("logsumexp", "cumsum"):
        dims = (x.type.shape[n.attr("axis")],)
    elif n.op in ARG_REDUCE:
        axis = n.attr("axis")
        dims = x.type.shape if axis is None else (x.type.shape[axis],)
    elif n.op == "sum_to":
        dims = sum_to_axes(x.type.shape, n.type.shape)[1]
    else:
        dims = [x.type.shape[a] for a in n.attr("axes")]
    total = 1
    for d in dims:
        if isinstance(d, Size):
            return None
        total *= d
    return total


def sum_to_axes(shape, target):
    """(axes, their dims) that sum_to reduces, as numpy's sum_to does."""
    lead = len(shape) - len(target)
    axes = list(range(lead))
    axes += [lead + i for i, d in enumerate(target) if d == 1 and shape[lead + i] != 1]
    return axes, [shape[a] for a in axes]


def matmul_operand_base(x: Node) -> tuple[Node, list[Node]]:
    """Strip one transpose and any reshapes: what a matmul reads as stored."""
    absorbed = []
    if x.op == "transpose" and x.type.rank == 2:
        absorbed.append(x)
        x = x.inputs[0]
    while x.op == "reshape":
        absorbed.append(x)
        x = x.inputs[0]
    return x, absorbed


def is_scatter_by_rows(n: Node) -> bool:
    """scatter_add(g, arange(m), idx...) into [m, ...]: each row of the
    result gets exactly row j of g, so it is index arithmetic, not a loop."""
    if n.op != "scatter_add" or len(n.inputs) < 2:
        return False
    first = n.inputs[1]
    shapes = [i.type.shape for i in n.inputs[1:]]
    return (first.op == "arange" and first.type.rank == 1
            and all(len(s) <= 1 for s in shapes)
            and n.type.shape[0] == first.type.shape[0])


@dataclass
class Groups:
    """The result: roots in topological order, which nodes have buffers,
    and each kernel root's core (a matmul or tree-reduced node) if any."""
    order: list[Node]
    materialized: set = field(default_factory=set)      # ids
    cores: dict = field(default_factory=dict)            # root id -> core node
    core_of: dict = field(default_factory=dict)          # core id -> root node
    consumers: dict = field(default_factory=dict)
    groups: dict = field(default_factory=dict)           # id -> kernel root ids
    deep: bool = False                                   # cut into short kernels (see above)

    def has_buffer(self, n: Node) -> bool:
        return id(n) in self.materialized

    def kernel_roots(self) -> list[Node]:
        return [n for n in self.order
                if id(n) in self.materialized and n.op not in EXTERNAL]


def find_groups(roots: list[Node]) -> Groups:
    order = toposort(roots)
    consumers = defaultdict(list)
    for n in order:
        for pos, i in enumerate(n.inputs):
            consumers[id(i)].append((n, pos))
    g = Groups(order, consumers=consumers)
    root_ids = {id(r) for r in roots}

    must = set(root_ids)
    absorbed = set()   # views a matmul reads through (only index arithmetic)
    for n in order:
        if n.op == "matmul":
            for x in n.inputs:
                base, views = matmul_operand_base(x)
                must.add(id(base))
                absorbed.update(id(v) for v in views)
        elif n.op in CONVS:
            must.update(id(x) for x in n.inputs)

    recompute = deep_checkpoints(order, consumers, must)
    deep = g.deep = recompute is not None
    groups: dict[int, frozenset] = {}    # id -> ids of kernel roots reading it inline
    read_once: dict[int, bool] = {}
    depth: dict[int, int] = {}   # id -> inlined nodes from it up to a kernel root (see above)
    for n in reversed(order):
        nid = id(n)
        if n.op in EXTERNAL:
            g.materialized.add(nid)
            continue
        readers = consumers[nid]
        gs = set()
        depth[nid] = 0
        for c, pos in readers:
            if c.op in CORES or (id(c) in absorbed and all(cc.op == "matmul" or id(cc) in absorbed
                                                              for cc, _ in consumers[id(c)])):
                continue    # read as a buffer by a matmul
            gs |= {id(c)} if id(c) in g.materialized else groups.get(id(c), frozenset())
            if id(c) not in g.materialized:
                depth[nid] = max(depth[nid], depth.get(id(c), 0))
        depth[nid] += deep or n.op not in ELEMENTWISE_OPS
        read_once[nid] = _reads_once(n, readers, g, read_once)

        if nid in must or n.op in ALWAYS and not _can_be_core(n, readers, g, read_once, gs):
            g.materialized.add(nid)
            continue
        if n.op in ALWAYS:          # a matmul or conv that becomes its reader's core
            root = _root_of(readers[0][0], g)
            g.cores[id(root)] = n
            g.core_of[nid] = root
            groups[nid] = frozenset(gs)
            continue
        if nid in (recompute or ()):
            pass    # at most INLINE_LIMIT levels above a checkpoint: recomputed
        elif _must_materialize(n, readers, gs, g, read_once) or \
                depth[nid] > INLINE_LIMIT and nid not in absorbed:
            g.materialized.add(nid)
            continue
        if n.op in LOOPS and read_once[nid] and _tree_worthy(n):
            # a long reduction with few outputs: the tree core of its kernel,
            # or a kernel of its own, never a loop run by one work-item
            root = _root_of(readers[0][0], g)
            if id(root) in g.cores or root.op not in ELEMENTWISE_OPS:
                g.materialized.add(nid)
                continue
            g.cores[id(root)] = n
            g.core_of[nid] = root
        groups[nid] = frozenset(gs)

    # a reduction that is itself a kernel root may use a tree too
    for n in order:
        if id(n) in g.materialized and n.op in LOOPS and _tree_worthy(n):
            g.cores.setdefault(id(n), n)
            g.core_of.setdefault(id(n), n)
    g.groups = groups
    return g


def deep_checkpoints(order, consumers, must: set):
    """For a deep graph: add its checkpoints to `must` and return the ids
    of the elementwise nodes within INLINE_LIMIT levels of a buffer, which
    may be recomputed by several kernels; None for a graph of usual depth."""
    level: dict[int, int] = {}
    for n in order:
        level[id(n)] = 1 + max((level[id(i)] for i in n.inputs), default=0)
    if max(level.values(), default=0) <= DEEP_LEVELS:
        return None
    far = INLINE_LIMIT + 1
    dist: dict[int, int] = {}   # id -> elementwise levels above the last buffer
    for n in order:
        nid = id(n)
        if n.op in EXTERNAL or nid in must or n.op in ("const", "size", "full", "arange"):
            dist[nid] = 0       # a buffer, or as cheap to compute as to read
        elif n.op not in ELEMENTWISE_OPS:
            dist[nid] = far     # may not have a buffer: never recompute above it
        else:
            dist[nid] = 1 + max(dist[id(i)] for i in n.inputs)
            if dist[nid] >= INLINE_LIMIT and len(consumers[nid]) > 1:
                must.add(nid)
                dist[nid] = 0
    return {nid for nid, d in dist.items() if 0 < d <= INLINE_LIMIT}


def _root_of(c: Node, g: Groups) -> Node:
    """The kernel root that reads c's value at c's own index (valid only on
    a read-once chain of same-shape elementwise nodes)."""
    while id(c) not in g.materialized:
        c = g.consumers[id(c)][0][0]
    return c


def _reads_once(n: Node, readers, g: Groups, read_once) -> bool:
    """n is read exactly once per output element of its kernel, at that
    kernel's output index: its one reader is a same-shape elementwise node
    that is a kernel root, or itself read once."""
    if len(readers) != 1:
        return False
    c, pos = readers[0]
    if c.op not in ELEMENTWISE_OPS or c.type.shape != n.type.shape:
        return False
    return id(c) in g.materialized or read_once.get(id(c), False)


def _can_be_core(n: Node, readers, g: Groups, read_once, gs) -> bool:
    if n.op not in CORES or not read_once[id(n)]:
        return False
    root = _root_of(readers[0][0], g)
    return root.op in ELEMENTWISE_OPS and id(root) not in g.cores and root.type.shape == n.type.shape


def is_uniform(n: Node) -> bool:
    """Every element is the same scalar computed from literals and sizes
    (a walk with a stack: the graph may be thousands of nodes deep)."""
    seen, stack = set(), [n]
    while stack:
        m = stack.pop()
        if m.op in ("const", "size", "full"):
            if m.op == "const" and m.type.rank != 0:
                return False
        elif m.op in ELEMENTWISE_OPS or m.op in ("broadcast_to", "reshape"):
            stack.extend(i for i in m.inputs if id(i) not in seen)
            seen.update(id(i) for i in m.inputs)
        else:
            return False
    return True


def _is_cheap(n: Node) -> bool:
    """Recomputing n in each kernel costs no more than reading a buffer:
    it is uniform, a table or arange, or views of one of those or of a buffer."""
    while True:
        if is_uniform(n) or n.op in ("arange", "const"):
            return True
        if n.op not in VIEWS:
            return False
        n = n.inputs[0]
        if n.op in EXTERNAL or n.op in ALWAYS:
            return True


def checks_exponent(n: Node) -> bool:
    """An integer pow flags a negative exponent computed from data."""
    return n.op == "pow" and n.type.is_int and not is_uniform(n.inputs[1])


def _must_materialize(n: Node, readers, gs, g: Groups, read_once) -> bool:
    if len(gs) >= 2 and not _is_cheap(n):
        return True
    if n.op in CHECKS_INDICES or checks_exponent(n):
        for c, pos in readers:
            if c.op == "slice" or (c.op == "gather" and pos == 0):
                return True
    if n.op in LOOPS and not (n.op == "scatter_add" and is_scatter_by_rows(n)):
        extent = reduced_extent(n)
        small = extent is not None and extent <= SMALL_EXTENT
        return not (small or read_once[id(n)])
    return False


def _tree_worthy(n: Node) -> bool:
    if n.op not in REDUCE + (Op.SUM_TO,):
        return False
    count = 1
    for d in n.type.shape:
        if isinstance(d, Size):
            return False
        count *= d
    extent = reduced_extent(n)
    return count <= TREE_MAX_OUTPUTS and (extent is None or extent >= TREE_MIN_EXTENT)
