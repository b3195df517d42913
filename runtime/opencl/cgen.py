"""OpenCL C building blocks: type names, literals, sizes as C expressions,
and the helper functions kernels may call (emitted only when used).

pocl (the CPU driver) does not inline OpenCL builtins, so a builtin call in
an inner loop costs 5-8x: the helpers here are plain arithmetic. f32
exp/log/log1p compute in double inline (correctly rounded but in rare
near-ties), f32 tanh is pocl's own builtin written out (the same bits); with
`RenderOptions(fast_math=True)` (`sym run --fast-math`) exp/log/log1p/tanh
are f32 polynomials instead, up to 2 ulp off.
"""
from __future__ import annotations

import math

import numpy as np


# storage type of each dtype in buffers; bool is one byte, as in numpy
CTYPE = {"f32": "float", "f64": "double", "i32": "int", "i64": "long", "bool": "uchar"}
# type of a value inside an expression: C comparisons give int
VTYPE = {"f32": "float", "f64": "double", "i32": "int", "i64": "long", "bool": "int"}


def literal(value, dtype: str) -> str:
    """A C literal of exactly the dtype's value (f32 values round-trip)."""
    if dtype == "bool":
        return "1" if value else "0"
    if dtype in ("i32", "i64"):
        v = int(value)
        if dtype == "i64":
            # -2**63 cannot be written as a literal; build it
            return "(-9223372036854775807L - 1L)" if v == -2**63 else f"{v}L"
        return "(-2147483647 - 1)" if v == -2**31 else str(v)
    x = float(np.float32(value)) if dtype == "f32" else float(value)
    t = CTYPE[dtype]
    if math.isnan(x):
        return f"(({t})NAN)"
    if math.isinf(x):
        return f"(({t})INFINITY)" if x > 0 else f"(-({t})INFINITY)"
    text = repr(x)
    if "e" not in text and "." not in text:
        text += ".0"
    return f"{text}f" if dtype == "f32" else f"{text}"


def size_name(var: str) -> str:
    # a loop's run-time size `#steps1` becomes `sz_Hsteps1` (no size a user
    # names starts with a capital)
    return f"sz_{var.replace('#', 'H', 1)}"


def dim_c(d) -> str:
    """A dimension (int or Size polynomial) as a C `long` expression over the
    size arguments, which every kernel that needs them receives."""
    if isinstance(d, int):
        return f"{d}L" if abs(d) > 2**31 - 1 else str(d)
    parts = []
    for mono, coeff in d.terms:
        factors = [size_name(v) for v in mono]
        if coeff != 1 or not factors:
            factors.insert(0, str(coeff))
        parts.append("*".join(factors))
    return "(" + " + ".join(parts) + ")"


def all_of(conds) -> str:
    """C conditions (each 0 or 1) all true, joined by `&`, not `&&`: a `&&`
    is a branch, which keeps pocl from running the work-items as vector
    lanes (measured on LeNet's padded cotangent: 5.8 ms against 3.4 ms)."""
    return " & ".join(f"({c})" for c in conds) or "1"


def prod_c(dims) -> str:
    dims = list(dims)
    if not dims:
        return "1"
    const = 1
    sym = []
    for d in dims:
        if isinstance(d, int):
            const *= d
        else:
            sym.append(dim_c(d))
    if not sym:
        return str(const)
    if const != 1:
        sym.insert(0, str(const))
    return "(" + "*".join(sym) + ")"


def horner(axes, shape) -> str:
    """Row-major flat index of the multi-index `axes` in `shape`."""
    if not axes:
        return "0"
    expr = axes[0]
    for a, d in zip(axes[1:], shape[1:]):
        if d == 1:
            expr = f"({expr})"  # the index is 0 on a size-1 axis
            continue
        expr = f"({expr})*{dim_c(d)} + {a}"
    return expr


# ---- helper functions, emitted on demand ------------------------------------
# name -> (C source, names of helpers it calls)
HELPERS: dict[str, tuple[str, tuple]] = {}


def helper(name, deps=()):
    def register(source):
        HELPERS[name] = (source.strip() + "\n", tuple(deps))
        return source
    return register


helper("sym_expf")("""
/* exp for f32 in plain arithmetic (Cephes): exp(x) = 2^n exp(r), |r| <= ln2/2.
   Branch-free (selects), so pocl can vectorise it across work-items; 2^n is
   applied in two halves so n down to -150 gives denormals, not junk. */
inline __attribute__((always_inline)) float sym_expf(float x) {
    float c = x > 88.8f ? 88.8f : (x < -104.0f ? -104.0f : x);
    c = c != c ? 0.0f : c;
    float t = c * 1.44269504088896341f;
    int n = (int)(t + (t >= 0.0f ? 0.5f : -0.5f));
    float fn = (float)n;
    float r = c - fn * 0.693359375f;
    r = r - fn * -2.12194440e-4f;
    float p = 1.9875691500E-4f;
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    p = p * r * r + r + 1.0f;
    int h = n >> 1;
    float y = p * as_float((h + 127) << 23) * as_float((n - h + 127) << 23);
    y = x > 88.72284f ? INFINITY : y;
    y = x < -103.97208f ? 0.0f : y;
    return x != x ? x : y;
}
""")

helper("sym_expf8")("""
/* sym_expf on 8 lanes at once (rows kernels put 8 rows in the lanes);
   the integer n comes from the bits of t + 1.5*2^23, so no conversion
   builtins are called. */
inline __attribute__((always_inline)) float8 sym_expf8(float8 x) {
    float8 c = x > 88.8f ? (float8)88.8f : (x < -104.0f ? (float8)-104.0f : x);
    c = c != c ? (float8)0.0f : c;
    float8 t = c * 1.44269504088896341f + 12582912.0f;
    int8 n = as_int8(t) - 0x4B400000;
    float8 fn = t - 12582912.0f;
    float8 r = c - fn * 0.693359375f;
    r = r - fn * -2.12194440e-4f;
    float8 p = 1.9875691500E-4f;
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    p = p * r * r + r + 1.0f;
    int8 h = n >> 1;
    float8 y = p * as_float8((h + 127) << 23) * as_float8((n - h + 127) << 23);
    y = x > 88.72284f ? (float8)INFINITY : y;
    y = x < -103.97208f ? (float8)0.0f : y;
    return x != x ? x : y;
}
""")

helper("sym_logf")("""
/* natural log for f32 in plain arithmetic (Cephes logf). */
inline __attribute__((always_inline)) float sym_logf(float x) {
    if (x != x || x < 0.0f) return NAN;
    if (x == 0.0f) return -INFINITY;
    if (x == INFINITY) return x;
    int e = 0;
    if (x < 1.17549435e-38f) { x *= 8388608.0f; e = -23; }
    int bits = as_int(x);
    e += ((bits >> 23) & 0xff) - 126;
    float m = as_float((bits & 0x807fffff) | 0x3f000000);  /* in [0.5, 1) */
    if (m < 0.707106781186547524f) { e -= 1; m = m + m - 1.0f; }
    else { m = m - 1.0f; }
    float z = m * m;
    float y = 7.0376836292E-2f;
    y = y * m + -1.1514610310E-1f;
    y = y * m + 1.1676998740E-1f;
    y = y * m + -1.2420140846E-1f;
    y = y * m + 1.4249322787E-1f;
    y = y * m + -1.6668057665E-1f;
    y = y * m + 2.0000714765E-1f;
    y = y * m + -2.4999993993E-1f;
    y = y * m + 3.3333331174E-1f;
    y = y * m * z;
    float fe = (float)e;
    y += -2.12194440e-4f * fe;
    y += -0.5f * z;
    return m + y + 0.693359375f * fe;
}
""")

helper("sym_tanhf", ("sym_expf",))("""
/* tanh for f32 (Cephes tanhf): an odd polynomial near 0, else via exp. */
inline __attribute__((always_inline)) float sym_tanhf(float x) {
    float a = x < 0.0f ? -x : x;
    if (a > 0.625f) {
        float z = a > 44.0f ? 1.0f : 1.0f - 2.0f / (sym_expf(a + a) + 1.0f);
        return x < 0.0f ? -z : z;
    }
    if (a < 1e-4f) return x;
    float z = x * x;
    float p = -5.70498872745E-3f;
    p = p * z + 2.06390887954E-2f;
    p = p * z + -5.37397155531E-2f;
    p = p * z + 1.33314422036E-1f;
    p = p * z + -3.33332819422E-1f;
    return p * z * x + x;
}
""")

helper("sym_log1pf", ("sym_logf",))("""
/* log(1 + x) accurate for small x: log(u) * x / (u - 1) with u = 1 + x. */
inline __attribute__((always_inline)) float sym_log1pf(float x) {
    float u = 1.0f + x;
    if (u == 1.0f) return x;
    if (u == INFINITY) return u;
    return sym_logf(u) * (x / (u - 1.0f));
}
""")


# ---- f32 tanh: pocl's own, inline ----------------------------------------------
# The default f32 tanh on every device: the operations of pocl 3.0's builtin
# float tanh (libclc's: a rational function up to 1, 1 - 2 / (exp(2y) + 1)
# above, with its own exp), in the same order, with its fused multiply-adds
# and no others. It equals the builtin on all 2^32 arguments
# (bench/tanh_bits.py) and is within 1 ulp of the true tanh; inline, pocl runs
# it as vector lanes, where the builtin is a call per element (8 ms against
# 1.5 ms for 1.44 million values). The tutorials' printed figures were
# reproduced with these bits; a correctly rounded tanh moves LeNet's
# epoch-1 test error by one image.
helper("sym_tanhf_pocl")("""
inline __attribute__((always_inline)) float sym_tanhf_pocl(float x) {
    #pragma OPENCL FP_CONTRACT OFF
    uint ux = as_uint(x);
    float y = as_float(ux & 0x7fffffffu);
    float y2 = y * y;
    float a1 = __builtin_fmaf(y2, __builtin_fmaf(y2, 0x1.9a56fap-15f, -0x1.7f793cp-10f), -0x1.20b1cp-2f);
    float b1 = __builtin_fmaf(y2, 0x1.5eed38p-2f, 0x1.b10aap-1f);
    float a2 = __builtin_fmaf(y2, __builtin_fmaf(y2, 0x1.4113bp-15f, -0x1.431cp-10f), -0x1.ecf362p-3f);
    float b2 = __builtin_fmaf(y2, 0x1.2b8cbep-2f, 0x1.71b6cp-1f);
    int near = y < 0x1.ccccccp-1f;
    float ratio = (near ? a1 : a2) / (near ? b1 : b2);
    float y3 = y2 * y;
    float low = __builtin_fmaf(ratio, y3, y);
    /* exp(2y): 2y = n ln2 + r, a polynomial in r, 2^n applied in two halves */
    float d = y * 2.0f;
    float t = d * 0x1.715476p+0f;
    t = t + (t < 0.0f ? -0.5f : 0.5f);
    int n = (int)t;
    float fn = (float)n;
    float hi = fn * 0x1.62e4p-1f;
    float r = d - hi;
    float lo = fn * 0x1.7f7d1cp-20f;
    r = r - lo;
    float p = r * 0x1.a057b4p-13f;
    p = p + 0x1.6d2d92p-10f;
    p = r * p;
    p = p + 0x1.11114cp-7f;
    p = r * p;
    p = p + 0x1.5554f4p-5f;
    p = r * p;
    p = p + 0x1.555556p-3f;
    p = r * p;
    p = p + 0.5f;
    float rr = r * r;
    p = rr * p;
    p = r + p;
    p = p + 1.0f;
    int h = n >> 1;
    p = p * as_float(((uint)h << 23) + 0x3f800000u);
    p = p * as_float(((uint)(n - h) << 23) + 0x3f800000u);
    float high = p + 1.0f;
    high = 2.0f / high;
    high = 1.0f - high;
    high = d < -104.0f ? -1.0f : high;
    high = d > 104.0f ? 1.0f : high;
    float z = y <= 1.0f ? low : high;
    z = y > 0x1.0a2b24p+3f ? 0x1.fffffep-1f : z;
    return as_float((ux & 0x80000000u) | as_uint(z));
}
""")


# ---- f32 exp/log/log1p computed in double, inline ----------------------------
# The default: an error of ~1e-14 relative before the final rounding to f32,
# so the result is the correctly rounded f32 but in rare near-ties (the
# builtins are within 1 ulp but pocl does not inline them; the f32
# polynomials above are up to 2 ulp off and only used with fast_math).
EXP_D_BODY = """
    c = c > 89.0 ? (T)89.0 : (c < -104.0 ? (T)-104.0 : c);
    /* n = round(c / ln2) from the bits of t + 1.5*2^52 */
    T t = c * 1.4426950408889634 + 6755399441055744.0;
    L n = as_L(t) - 0x4338000000000000L;
    T fn = t - 6755399441055744.0;
    T r = (c - fn * 0.6931471803691238) - fn * 1.9082149292705877e-10;
    /* exp(r) - 1 on |r| <= ln2/2: Taylor to degree 11 (error < 1e-14) */
    T p = 2.505210838544172e-08;
    p = p * r + 2.755731922398589e-07;
    p = p * r + 2.755731922398589e-06;
    p = p * r + 2.48015873015873e-05;
    p = p * r + 1.984126984126984e-04;
    p = p * r + 1.388888888888889e-03;
    p = p * r + 8.333333333333333e-03;
    p = p * r + 4.166666666666666e-02;
    p = p * r + 1.666666666666667e-01;
    p = p * r + 0.5;
    p = p * r * r + r;
    T scale = as_T((n + 1023) << 52);
"""


def _exp_d(vec: str) -> str:
    return (EXP_D_BODY.replace("as_L", f"as_long{vec}").replace("as_T", f"as_double{vec}")
            .replace("T ", f"double{vec} ").replace("(T)", f"(double{vec})").replace("L n", f"long{vec} n"))


helper("sym_expf_d")("""
inline __attribute__((always_inline)) float sym_expf_d(float x) {
    double c = x != x ? 0.0 : (double)x;""" + _exp_d("") + """
    /* past 88.73 the cast to float gives inf, below -103.98 0 */
    float y = (float)(scale * p + scale);
    return x != x ? x : y;
}
""")

helper("sym_expf8_d")("""
/* sym_expf_d on 8 lanes (rows kernels put 8 rows in the lanes). */
inline __attribute__((always_inline)) float8 sym_expf8_d(float8 x) {
    double8 c = __builtin_convertvector(x != x ? (float8)0.0f : x, double8);""" + _exp_d("8") + """
    float8 y = __builtin_convertvector(scale * p + scale, float8);
    return x != x ? x : y;
}
""")

helper("sym_log_d")("""
/* log of a positive finite double (f32 denormals are normal doubles):
   u = 2^e m, m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s) with
   s = (m - 1) / (m + 1), |s| <= 0.172: the series to s^17 (error < 1e-14). */
inline __attribute__((always_inline)) double sym_log_d(double u) {
    long bits = as_long(u);
    int e = (int)((bits >> 52) & 0x7ff) - 1023;
    double m = as_double((bits & 0x000fffffffffffffL) | 0x3ff0000000000000L);
    if (m > 1.4142135623730951) { m = m * 0.5; e += 1; }
    double s = (m - 1.0) / (m + 1.0);
    double z = s * s;
    double p = 1.0 / 17.0;
    p = p * z + 1.0 / 15.0;
    p = p * z + 1.0 / 13.0;
    p = p * z + 1.0 / 11.0;
    p = p * z + 1.0 / 9.0;
    p = p * z + 1.0 / 7.0;
    p = p * z + 1.0 / 5.0;
    p = p * z + 1.0 / 3.0;
    return (double)e * 0.6931471805599453 + (2.0 * s + 2.0 * s * z * p);
}
""")

helper("sym_logf_d", ("sym_log_d",))("""
inline __attribute__((always_inline)) float sym_logf_d(float x) {
    if (x != x || x < 0.0f) return NAN;
    if (x == 0.0f) return -INFINITY;
    if (x == INFINITY) return x;
    return (float)sym_log_d((double)x);
}
""")

helper("sym_log1pf_d", ("sym_log_d",))("""
/* log(1 + x): 1 + x is exact in double for |x| >= 2^-28; below, log1p(x)
   rounds to x in f32. */
inline __attribute__((always_inline)) float sym_log1pf_d(float x) {
    if (x != x || x < -1.0f) return NAN;
    if (x == -1.0f) return -INFINITY;
    if (x == INFINITY) return x;
    if (x > -3.7e-9f && x < 3.7e-9f) return x;
    return (float)sym_log_d(1.0 + (double)x);
}
""")

def floordiv_mod_float(t, suffix):
    # numpy's npy_divmod: the quotient floor-rounded, the remainder with the
    # sign of the divisor; fmod/floor are builtins but never in hot loops
    return f"""
inline {t} sym_fdivmod{suffix}({t} a, {t} b, {t}* mod_out) {{
    {t} mod = fmod(a, b);
    if (b == 0) {{ *mod_out = mod; return a / b; }}
    {t} div = (a - mod) / b;
    if (mod != 0) {{
        if ((b < 0) != (mod < 0)) {{ mod += b; div -= 1; }}
    }} else {{
        mod = copysign(({t})0, b);
    }}
    {t} fdiv;
    if (div != 0) {{
        fdiv = floor(div);
        if (div - fdiv > ({t})0.5) fdiv += 1;
    }} else {{
        fdiv = copysign(({t})0, a / b);
    }}
    *mod_out = mod;
    return fdiv;
}}
inline {t} sym_floordiv{suffix}({t} a, {t} b) {{ {t} m; return sym_fdivmod{suffix}(a, b, &m); }}
inline {t} sym_mod{suffix}({t} a, {t} b) {{ {t} m; sym_fdivmod{suffix}(a, b, &m); return m; }}
"""


def floordiv_mod_int(t, suffix):
    # numpy: division by zero gives 0 for both; otherwise Python's rules
    return f"""
inline {t} sym_floordiv{suffix}({t} a, {t} b) {{
    if (b == 0) return 0;
    if (b == -1) return -a;
    {t} q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1;
    return q;
}}
inline {t} sym_mod{suffix}({t} a, {t} b) {{
    if (b == 0 || b == -1) return 0;
    {t} r = a % b;
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
}}
inline {t} sym_pow{suffix}({t} a, {t} b) {{
    /* square-and-multiply; a negative exponent (an error in numpy) is
       flagged by the caller, and gives 0 here */
    if (b < 0) return (a == 1) ? 1 : ((a == -1) ? ((b & 1) ? -1 : 1) : 0);
    {t} r = 1;
    while (b) {{ if (b & 1) r *= a; a *= a; b >>= 1; }}
    return r;
}}
"""


for _t, _s in (("float", "f"), ("double", "d")):
    helper(f"sym_divmod{_s}")(floordiv_mod_float(_t, _s))
for _t, _s in (("int", "i"), ("long", "l")):
    helper(f"sym_divmod{_s}")(floordiv_mod_int(_t, _s))

helper("sym_flag")("""
/* Record the first data-dependent index error: err[0] is the flag,
   err[1] the site, err[2] the axis, then the value and the size (as longs). */
inline void sym_flag(__global int* err, int site, int axis, long value, long size) {
    if (atomic_cmpxchg(err, 0, 1) == 0) {
        err[1] = site;
        err[2] = axis;
        ((__global long*)err)[2] = value;
        ((__global long*)err)[3] = size;
    }
}
""")

# ---- random draws: semantics/philox.py in OpenCL C, bit for bit ----------------
helper("sym_philox")("""
/* Philox-4x32-10 (Random123): the counter c under the key (k0, k1). The
   32x32 -> 64-bit products are plain ulong arithmetic (mul_hi is a call). */
inline uint4 sym_philox(uint4 c, uint k0, uint k1) {
    for (int r = 0; r < 10; r++) {
        if (r) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
        ulong p0 = (ulong)0xD2511F53u * c.x, p1 = (ulong)0xCD9E8D57u * c.z;
        c = (uint4)((uint)(p1 >> 32) ^ c.y ^ k0, (uint)p1, (uint)(p0 >> 32) ^ c.w ^ k1, (uint)p0);
    }
    return c;
}
/* block b of draw `draw` of the stream (seed, calls) */
inline uint4 sym_rand_block(long seed, long calls, uint draw, ulong b) {
    return sym_philox((uint4)((uint)b, draw, (uint)calls, (uint)((ulong)calls >> 32)),
                      (uint)seed, (uint)((ulong)seed >> 32));
}
inline uint sym_rand_pick(uint4 r, uint j) {
    return j == 0 ? r.x : (j == 1 ? r.y : (j == 2 ? r.z : r.w));
}
""")

helper("sym_rand_bits", ("sym_philox",))("""
inline long sym_rand_bits(long seed, long calls, uint draw, ulong e) {
    return (long)sym_rand_pick(sym_rand_block(seed, calls, draw, e >> 2), (uint)(e & 3));
}
""")

helper("sym_rand_uf", ("sym_philox",))("""
/* f32: low + (high - low) u, u from 24 bits; the product is exact in
   double, so the result does not depend on a fused multiply-add. */
inline float sym_rand_uf(long seed, long calls, uint draw, ulong e, float low, float high) {
    uint w = sym_rand_pick(sym_rand_block(seed, calls, draw, e >> 2), (uint)(e & 3));
#ifdef cl_khr_fp64
    return (float)((double)low + (double)(high - low) * ((double)(w >> 8) * 0x1p-24));
#else
    return low + (high - low) * ((float)(w >> 8) * 0x1p-24f);
#endif
}
""")

helper("sym_rand_nf", ("sym_philox",))("""
/* f32 normal: Box-Muller in double from two 24-bit uniforms, u1 in (0, 1] */
inline float sym_rand_nf(long seed, long calls, uint draw, ulong e, float mean, float std) {
    uint4 r = sym_rand_block(seed, calls, draw, e >> 1);
    uint w0 = (e & 1) ? r.z : r.x, w1 = (e & 1) ? r.w : r.y;
#ifdef cl_khr_fp64
    double u1 = (double)(w0 >> 8) * 0x1p-24 + 0x1p-24, u2 = (double)(w1 >> 8) * 0x1p-24;
    float z = (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
    return (float)((double)mean + (double)std * (double)z);
#else
    float u1 = (float)(w0 >> 8) * 0x1p-24f + 0x1p-24f, u2 = (float)(w1 >> 8) * 0x1p-24f;
    return mean + std * (sqrt(-2.0f * log(u1)) * cos(6.2831853f * u2));
#endif
}
""")

helper("sym_rand_ud", ("sym_philox",))("""
inline double sym_rand_unit53(uint w0, uint w1) {
    return ((double)(w0 >> 5) * 67108864.0 + (double)(w1 >> 6)) * 0x1p-53;
}
inline double sym_rand_ud(long seed, long calls, uint draw, ulong e, double low, double high) {
    uint4 r = sym_rand_block(seed, calls, draw, e >> 1);
    double u = (e & 1) ? sym_rand_unit53(r.z, r.w) : sym_rand_unit53(r.x, r.y);
    {   /* no fused multiply-add: numpy rounds the product, then the sum */
        #pragma OPENCL FP_CONTRACT OFF
        return low + (high - low) * u;
    }
}
inline double sym_rand_nd(long seed, long calls, uint draw, ulong e, double mean, double std) {
    uint4 r = sym_rand_block(seed, calls, draw, e);
    double u1 = sym_rand_unit53(r.x, r.y) + 0x1p-53, u2 = sym_rand_unit53(r.z, r.w);
    double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
    {
        #pragma OPENCL FP_CONTRACT OFF
        return mean + std * z;
    }
}
""")

SUFFIX = {"f32": "f", "f64": "d", "i32": "i", "i64": "l"}


def helper_closure(names) -> list[str]:
    """Helper names with their dependencies first, each once."""
    out: list[str] = []

    def visit(n):
        if n in out:
            return
        for d in HELPERS[n][1]:
            visit(d)
        out.append(n)
    for n in sorted(names):
        visit(n)
    return out


def prelude(helpers, fp64: bool, vector_types) -> str:
    """The program header: fp64 pragma, unaligned vector typedefs (pointer
    casts to these give unaligned vector loads, unlike vloadN calls, which
    pocl does not inline), and the helpers in use."""
    lines = []
    if fp64:
        lines.append("#pragma OPENCL EXTENSION cl_khr_fp64 : enable")
    # map kernels split flat indices in sym_ix: 32-bit vectorises, 64-bit does not
    lines += ["#ifdef SYM_WIDE_INDEX", "typedef long sym_ix;", "#else", "typedef int sym_ix;",
              "#endif"]
    for t, n in sorted(vector_types):
        align = 8 if t == "double" else 4
        lines.append(f"typedef {t} {t}{n}u __attribute__((ext_vector_type({n}), aligned({align})));")
    for name in helper_closure(helpers):
        lines.append(HELPERS[name][0])
    return "\n".join(lines) + "\n"
