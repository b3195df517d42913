"""A hand-written OpenCL logistic-regression step: the bench's reference
for what one pass over a minibatch can reach on this device.

Two kernels per step, all arguments bound once, the whole training split
uploaded once, W and b on the device:

  step    GROUPS work-groups of one work-item each take a share of the rows,
          8 at a time: logits (W transposed into local memory once, two rows
          per pass so every load of W feeds two rows), softmax and the
          gradient rows g = (p - onehot(y)) / n, then x.T @ g and sum(g)
          into the group's partial sums while the 8 rows are in cache.
  update  W -= lr * sum of the partials; b likewise.

It reads x once per step, where sym's kernels read it twice (x @ W, then
x.T @ g). It is a measurement, not part of sym; it assumes 784 -> 10 f32.
"""
from __future__ import annotations

import numpy as np

GROUPS = 2            # one per core on the 2-core CPU (measured best of 2, 4, 8)
K, N = 784, 10
SHARE = K * N + 16    # per group: x.T @ g stored transposed [N, K], then sum(g)

SOURCE = r"""
typedef float float8u __attribute__((ext_vector_type(8), aligned(4)));
#define HSUM(v) (v.s0 + v.s1 + v.s2 + v.s3 + v.s4 + v.s5 + v.s6 + v.s7)

__kernel __attribute__((reqd_work_group_size(1, 1, 1)))
void logreg_step(__global const float* x_all, __global const int* y_all,
                 __global const float* W, __global const float* b,
                 __global float* part, const long first, const long n)
{
    const long grp = get_group_id(0);
    __local float wt[784 * 10];
    for (int k = 0; k < 784; k++)
        for (int j = 0; j < 10; j++) wt[j * 784 + k] = W[k * 10 + j];
    __global float* p = part + grp * SHARE;
    for (int i = 0; i < SHARE; i++) p[i] = 0;
    const __global float* x = x_all + first * 784;
    const __global int* y = y_all + first;
    const long per = ((n + GROUPS - 1) / GROUPS + 7) / 8 * 8;
    const long lo = grp * per, hi = min(lo + per, n);
    for (long r0 = lo; r0 < hi; r0 += 8) {
        float z[80];
        for (int i = 0; i < 8; i += 2) {           /* logits, two rows per pass */
            const __global float* xa = x + min(r0 + i, n - 1) * 784;
            const __global float* xb = x + min(r0 + i + 1, n - 1) * 784;
            for (int c = 0; c < 10; c += 5) {
                const __local float* w = wt + c * 784;
                float8 a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0;
                float8 b0 = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0;
                for (int k = 0; k < 784; k += 8) {
                    const float8 u = *(const __global float8u*)(xa + k);
                    const float8 v = *(const __global float8u*)(xb + k);
                    float8 q = *(const __local float8u*)(w + k);
                    a0 = u * q + a0; b0 = v * q + b0;
                    q = *(const __local float8u*)(w + 784 + k);
                    a1 = u * q + a1; b1 = v * q + b1;
                    q = *(const __local float8u*)(w + 1568 + k);
                    a2 = u * q + a2; b2 = v * q + b2;
                    q = *(const __local float8u*)(w + 2352 + k);
                    a3 = u * q + a3; b3 = v * q + b3;
                    q = *(const __local float8u*)(w + 3136 + k);
                    a4 = u * q + a4; b4 = v * q + b4;
                }
                float* za = z + i * 10 + c;
                float* zb = za + 10;
                za[0] = HSUM(a0); za[1] = HSUM(a1); za[2] = HSUM(a2); za[3] = HSUM(a3); za[4] = HSUM(a4);
                zb[0] = HSUM(b0); zb[1] = HSUM(b1); zb[2] = HSUM(b2); zb[3] = HSUM(b3); zb[4] = HSUM(b4);
            }
        }
        float g[80];
        for (int i = 0; i < 8; i++) {              /* softmax gradient rows */
            float m = -INFINITY;
            for (int j = 0; j < 10; j++) { z[i * 10 + j] += b[j]; m = max(m, z[i * 10 + j]); }
            float s = 0;
            for (int j = 0; j < 10; j++) { g[i * 10 + j] = exp(z[i * 10 + j] - m); s += g[i * 10 + j]; }
            const int label = y[min(r0 + i, n - 1)];
            const int valid = r0 + i < hi;
            for (int j = 0; j < 10; j++)
                g[i * 10 + j] = valid ? (g[i * 10 + j] / s - (j == label)) / (float)n : 0.0f;
        }
        const __global float* xr[8];
        for (int i = 0; i < 8; i++) xr[i] = x + min(r0 + i, n - 1) * 784;
        for (int k = 0; k < 784; k += 8) {         /* x.T @ g into the partials */
            __global float* pk = p + k;
            float8 c0 = *(__global float8u*)(pk), c1 = *(__global float8u*)(pk + 784),
                   c2 = *(__global float8u*)(pk + 1568), c3 = *(__global float8u*)(pk + 2352),
                   c4 = *(__global float8u*)(pk + 3136), c5 = *(__global float8u*)(pk + 3920),
                   c6 = *(__global float8u*)(pk + 4704), c7 = *(__global float8u*)(pk + 5488),
                   c8 = *(__global float8u*)(pk + 6272), c9 = *(__global float8u*)(pk + 7056);
            for (int i = 0; i < 8; i++) {
                const float8 v = *(const __global float8u*)(xr[i] + k);
                const float* gi = g + i * 10;
                c0 = v * gi[0] + c0; c1 = v * gi[1] + c1; c2 = v * gi[2] + c2;
                c3 = v * gi[3] + c3; c4 = v * gi[4] + c4; c5 = v * gi[5] + c5;
                c6 = v * gi[6] + c6; c7 = v * gi[7] + c7; c8 = v * gi[8] + c8;
                c9 = v * gi[9] + c9;
            }
            *(__global float8u*)(pk) = c0; *(__global float8u*)(pk + 784) = c1;
            *(__global float8u*)(pk + 1568) = c2; *(__global float8u*)(pk + 2352) = c3;
            *(__global float8u*)(pk + 3136) = c4; *(__global float8u*)(pk + 3920) = c5;
            *(__global float8u*)(pk + 4704) = c6; *(__global float8u*)(pk + 5488) = c7;
            *(__global float8u*)(pk + 6272) = c8; *(__global float8u*)(pk + 7056) = c9;
        }
        for (int i = 0; i < 8; i++)
            for (int j = 0; j < 10; j++) p[7840 + j] += g[i * 10 + j];
    }
}

__kernel void logreg_update(__global float* W, __global float* b,
                            __global const float* part, const float lr)
{
    const int e = get_global_id(0);              /* an element of W, then b */
    if (e < 7840) {
        const int k = e / 10, j = e % 10;
        float s = 0;
        for (int g = 0; g < GROUPS; g++) s += part[g * SHARE + j * 784 + k];
        W[e] -= lr * s;
    } else if (e < 7850) {
        float s = 0;
        for (int g = 0; g < GROUPS; g++) s += part[g * SHARE + 7840 + (e - 7840)];
        b[e - 7840] -= lr * s;
    }
}
"""


class HandOpenCL:
    """The bench runner (see mnist_logreg.Runner for the interface)."""
    key = "opencl-hand"
    name = "hand-written OpenCL (one pass)"
    note = ""

    def setup(self, data, train_batches, valid_batches, lr):
        from runtime.opencl.device import choose_device, import_cl
        cl = self.cl = import_cl()
        device, self.note = choose_device(None)
        self.ctx = cl.Context([device])
        self.queue = cl.CommandQueue(self.ctx)
        source = SOURCE.replace("SHARE", str(SHARE)).replace("GROUPS", str(GROUPS))
        program = cl.Program(self.ctx, source).build(options=["-cl-mad-enable", "-w"])
        self.train_batches, self.valid_batches = train_batches, valid_batches
        x = np.ascontiguousarray(data.train.x, np.float32)
        y = np.ascontiguousarray(data.train.y, np.int32)
        mf = cl.mem_flags
        self.x = cl.Buffer(self.ctx, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=x)
        self.y = cl.Buffer(self.ctx, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=y)
        self.W = cl.Buffer(self.ctx, mf.READ_WRITE, K * N * 4)
        self.b = cl.Buffer(self.ctx, mf.READ_WRITE, N * 4)
        self.part = cl.Buffer(self.ctx, mf.READ_WRITE, GROUPS * SHARE * 4)
        self.step = program.logreg_step
        self.update = program.logreg_update
        self.update.set_args(self.W, self.b, self.part, np.float32(lr))
        self.batch = train_batches[0][0].shape[0]
        self.step.set_args(self.x, self.y, self.W, self.b, self.part, np.int64(0),
                           np.int64(self.batch))
        # each step's first row, as a 0-d argument set per step (the data is uploaded once)
        self.firsts = [np.int64(i * self.batch) for i in range(len(train_batches))]

    def reset(self):
        self.cl.enqueue_copy(self.queue, self.W, np.zeros(K * N, np.float32))
        self.cl.enqueue_copy(self.queue, self.b, np.zeros(N, np.float32))

    def epoch(self):
        cl, q = self.cl, self.queue
        for first in self.firsts:
            self.step.set_arg(5, first)
            cl.enqueue_nd_range_kernel(q, self.step, (GROUPS,), (1,))
            cl.enqueue_nd_range_kernel(q, self.update, (7856,), None)
        return self.weights()[0]

    def weights(self):
        W = np.empty((K, N), np.float32)
        b = np.empty(N, np.float32)
        self.cl.enqueue_copy(self.queue, W, self.W)
        self.cl.enqueue_copy(self.queue, b, self.b, is_blocking=True)
        return W, b

    def val_error(self):
        W, b = self.weights()
        # einsum's own loop, not BLAS: OpenBLAS's workers would spin on both
        # cores for 0.1 s after the call, into the next timed epoch
        errs = [np.mean(np.argmax(np.einsum("ij,jk->ik", x, W) + b, axis=1) != y)
                for x, y in self.valid_batches]
        return float(np.mean(errs)) * 100.0
