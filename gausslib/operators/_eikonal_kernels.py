"""Compiled (numba) kernels of the eikonal operator: fast sweeping and its discrete adjoint.

Arrays here are NumPy float64 on the host; :mod:`gausslib.operators.eikonal` wraps them in an
autograd Function. Layout: the forward keeps traveltimes as ``[n + 2, n + 2, S]`` with an
``inf`` border (no boundary branches) and the sources as the innermost, contiguous axis, so
the Godunov update is vectorised over sources (SIMD over 8 sources at once).
"""
from __future__ import annotations

import numpy as np
from numba import njit

_INF = np.inf


@njit(cache=True, inline="always")
def _godunov(a, b, fh):
    # Branch-free two-neighbour Godunov update. When a = b = inf, d is nan: `not (|d| < fh)`
    # then takes the one-sided branch, which gives inf instead of nan.
    d = a - b
    m = min(a, b)
    one_sided = m + fh
    disc = 2.0 * fh * fh - d * d
    two_sided = 0.5 * (a + b + np.sqrt(max(disc, 0.0)))
    return one_sided if not (abs(d) < fh) else two_sided


@njit(cache=True)
def _sweep(T, active, fh, i0, i1, di, j0, j1, dj, tol):
    """Run one Gauss-Seidel sweep in the given order; return how many updates exceeded tol.

    Only nodes flagged in ``active`` (a neighbour changed by more than tol since their last
    update) are visited: any other node would recompute its value to within tol, so the late
    sweeps, where little changes, cost almost nothing.
    """
    S = T.shape[2]
    changed = 0
    for i in range(i0, i1, di):
        for j in range(j0, j1, dj):
            if not active[i, j]:
                continue
            active[i, j] = False
            f = fh[i - 1, j - 1]
            Tc = T[i, j]
            Tn = T[i - 1, j]
            Ts = T[i + 1, j]
            Tw = T[i, j - 1]
            Te = T[i, j + 1]
            significant = 0
            for s in range(S):
                old = Tc[s]
                new = _godunov(min(Tn[s], Ts[s]), min(Tw[s], Te[s]), f)
                # inf - finite = inf > tol * new: a first finite value counts as a change.
                significant += (old - new) > tol * new
                Tc[s] = min(old, new)
            if significant:
                changed += significant
                active[i - 1, j] = True
                active[i + 1, j] = True
                active[i, j - 1] = True
                active[i, j + 1] = True
    return changed


@njit(cache=True)
def fast_sweep(fh, src, tol, max_sweeps):
    """Return (T: [n + 2, n + 2, S] with an inf border, sweeps used) for slowness·h ``fh: [n, n]``.

    ``src: [S, 2]`` int64 (row, col). Sweeps cycle through the four orders and stop after the
    first sweep in which no node decreased by more than ``tol`` relative: such a sweep saw only
    final values, so every node already satisfies its update.
    """
    n = fh.shape[0]
    S = src.shape[0]
    T = np.full((n + 2, n + 2, S), _INF)
    for s in range(S):
        T[src[s, 0] + 1, src[s, 1] + 1, s] = 0.0
    active = np.zeros((n + 2, n + 2), np.bool_)
    active[1:-1, 1:-1] = True
    sweeps = 0
    while sweeps < max_sweeps:
        k = sweeps % 4
        if k == 0:
            c = _sweep(T, active, fh, 1, n + 1, 1, 1, n + 1, 1, tol)
        elif k == 1:
            c = _sweep(T, active, fh, n, 0, -1, 1, n + 1, 1, tol)
        elif k == 2:
            c = _sweep(T, active, fh, n, 0, -1, n, 0, -1, tol)
        else:
            c = _sweep(T, active, fh, 1, n + 1, 1, n, 0, -1, tol)
        sweeps += 1
        if c == 0:
            break
    return T, sweeps


@njit(cache=True)
def fast_sweep_batch(fh, src, tol, max_sweeps, block=8):
    """Return (T: [B, S, n, n], sweeps: [B]) for ``fh: [B, n, n]`` (slowness times h).

    Sources are solved ``block`` at a time (8 doubles fill one AVX-512 register): a smaller
    working set, and each block stops as soon as it has converged. ``sweeps`` is the largest
    count over the blocks.
    """
    B, n = fh.shape[0], fh.shape[1]
    S = src.shape[0]
    out = np.empty((B, S, n, n))
    sweeps = np.zeros(B, np.int64)
    for b in range(B):
        for s0 in range(0, S, block):
            s1 = min(s0 + block, S)
            T, used = fast_sweep(fh[b], src[s0:s1], tol, max_sweeps)
            sweeps[b] = max(sweeps[b], used)
            for s in range(s0, s1):
                out[b, s] = T[1:-1, 1:-1, s - s0]
    return out, sweeps


@njit(cache=True)
def _adjoint_one(T, fh, g, out, par, w, dep, stack, acc):
    """Add to ``out: [n, n]`` the gradient of ⟨g, T⟩ w.r.t. ``fh`` for one source's field.

    The converged field satisfies, at every non-source node x, ``T_x = T_m + fh_x`` (one-sided,
    m the smaller of the two upwind neighbours) or ``(T_x − a)² + (T_x − b)² = fh_x²``
    (two-sided). Linearised: ``dT_x = Σ_p w_xp dT_p + D_x dfh_x`` with parents p of smaller T,
    so the adjoint ``λ = g + Lᵀλ`` is solved in one pass, visiting a node once every node that
    depends on it is done (Kahn's order on the reversed DAG, no sort).
    """
    n = T.shape[0]
    dep[:] = 0
    for i in range(n):
        for j in range(n):
            k = i * n + j
            par[k, 0] = -1
            par[k, 1] = -1
            t = T[i, j]
            if t == 0.0:  # source: fixed, no dependence
                continue
            # upwind neighbours, as in the sweep (outside the grid counts as inf)
            a, pa = _INF, -1
            if i > 0:
                a, pa = T[i - 1, j], k - n
            if i < n - 1 and T[i + 1, j] < a:
                a, pa = T[i + 1, j], k + n
            b, pb = _INF, -1
            if j > 0:
                b, pb = T[i, j - 1], k - 1
            if j < n - 1 and T[i, j + 1] < b:
                b, pb = T[i, j + 1], k + 1
            f = fh[i, j]
            if not (abs(a - b) < f):
                par[k, 0] = pa if a <= b else pb
                w[k, 0] = 1.0
                w[k, 2] = 1.0  # D_x = ∂T_x/∂fh_x
            else:
                ta, tb = t - a, t - b
                den = ta + tb
                par[k, 0] = pa
                par[k, 1] = pb
                w[k, 0] = ta / den
                w[k, 1] = tb / den
                w[k, 2] = f / den
            dep[par[k, 0]] += 1
            if par[k, 1] >= 0:
                dep[par[k, 1]] += 1
    top = 0
    for k in range(n * n):
        acc[k] = g.flat[k]
        if dep[k] == 0:
            stack[top] = k
            top += 1
    while top > 0:
        top -= 1
        k = stack[top]
        lam = acc[k]
        p0 = par[k, 0]
        if p0 < 0:
            continue
        out.flat[k] += w[k, 2] * lam
        for q in range(2):
            p = par[k, q]
            if p < 0:
                break
            acc[p] += w[k, q] * lam
            dep[p] -= 1
            if dep[p] == 0:
                stack[top] = p
                top += 1


@njit(cache=True)
def adjoint_batch(T, fh, g):
    """Return ∂⟨g, T⟩/∂fh: [B, n, n] for fields ``T: [B, S, n, n]`` and cotangents ``g`` alike."""
    B, S, n = T.shape[0], T.shape[1], T.shape[2]
    out = np.zeros((B, n, n))
    N = n * n
    par = np.empty((N, 2), np.int64)
    w = np.empty((N, 3))
    dep = np.empty(N, np.int64)
    stack = np.empty(N, np.int64)
    acc = np.empty(N)
    for b in range(B):
        for s in range(S):
            _adjoint_one(T[b, s], fh[b], g[b, s], out[b], par, w, dep, stack, acc)
    return out
