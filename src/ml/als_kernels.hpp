#pragma once
// Internal: the per-row arithmetic of ALS. Every function sums in a fixed order that does not
// depend on alignment or vector width (element-wise loops, or a fixed set of 8 partial sums
// combined in a fixed tree), so the same inputs give the same bits in every clone
// (default / AVX2 / AVX-512) and wherever the row sits in memory. The build uses
// -ffp-contract=off, so no clone fuses multiply and add.
#include <cmath>
#include <cstddef>
#include <cstdint>

#define ECOM_INLINE [[gnu::always_inline]] inline

namespace ecom::ml::kernel {

template <class T>
ECOM_INLINE T dot(int k, const T* a, const T* b) {
  T s[8] = {T(0), T(0), T(0), T(0), T(0), T(0), T(0), T(0)};
  int j = 0;
  for (; j + 8 <= k; j += 8)
    for (int l = 0; l < 8; ++l) s[l] += a[j + l] * b[j + l];
  for (int l = 0; j + l < k; ++l) s[l] += a[j + l] * b[j + l];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

// y += alpha * x
template <class T>
ECOM_INLINE void axpy(int k, T alpha, const T* x, T* y) {
  for (int a = 0; a < k; ++a) y[a] += alpha * x[a];
}

// out = G v for a symmetric k x k G (row-major): out[a] = sum_b v[b] G[b][a], b ascending.
template <class T>
ECOM_INLINE void symv(int k, const T* g, const T* v, T* out) {
  for (int a = 0; a < k; ++a) out[a] = v[0] * g[a];
  int b = 1;
  for (; b + 4 <= k; b += 4) {
    const T v0 = v[b], v1 = v[b + 1], v2 = v[b + 2], v3 = v[b + 3];
    const T* g0 = g + static_cast<std::size_t>(b) * k;
    const T* g1 = g0 + k;
    const T* g2 = g1 + k;
    const T* g3 = g2 + k;
    for (int a = 0; a < k; ++a)
      out[a] = (((out[a] + v0 * g0[a]) + v1 * g1[a]) + v2 * g2[a]) + v3 * g3[a];
  }
  for (; b < k; ++b) {
    const T vb = v[b];
    const T* gb = g + static_cast<std::size_t>(b) * k;
    for (int a = 0; a < k; ++a) out[a] += vb * gb[a];
  }
}

// Conjugate gradient on (G + sum_t (c_t-1) y_t y_t^T) x = sum_t c_t y_t, warm-started from x,
// as in Takacs et al. and the `implicit` library: r = b - A x, then `steps` CG steps.
template <class T>
ECOM_INLINE void cg_solve(int k, const T* g, const T* rows, const std::uint32_t* idx, const T* conf,
                          std::size_t n, int steps, T* x, T* scratch) {
  T* r = scratch;
  T* p = scratch + k;
  T* ap = scratch + 2 * k;
  symv(k, g, x, r);
  for (int a = 0; a < k; ++a) r[a] = -r[a];
  for (std::size_t t = 0; t < n; ++t) {
    const T* y = rows + static_cast<std::size_t>(idx[t]) * k;
    const T c = conf[t];
    const T d = dot(k, y, x);
    axpy(k, c - (c - T(1)) * d, y, r);
  }
  for (int a = 0; a < k; ++a) p[a] = r[a];
  T rs_old = dot(k, r, r);
  if (!(rs_old >= T(1e-20))) return;
  for (int it = 0; it < steps; ++it) {
    symv(k, g, p, ap);
    for (std::size_t t = 0; t < n; ++t) {
      const T* y = rows + static_cast<std::size_t>(idx[t]) * k;
      const T c = conf[t];
      axpy(k, (c - T(1)) * dot(k, y, p), y, ap);
    }
    const T alpha = rs_old / dot(k, p, ap);
    axpy(k, alpha, p, x);
    axpy(k, -alpha, ap, r);
    const T rs_new = dot(k, r, r);
    if (!(rs_new >= T(1e-20))) break;
    const T beta = rs_new / rs_old;
    for (int a = 0; a < k; ++a) p[a] = r[a] + beta * p[a];
    rs_old = rs_new;
  }
}

// Exact solve: A = G + sum_t (c_t-1) y_t y_t^T assembled, Cholesky A = L L^T, two triangular
// solves. scratch: 2k^2 + 2k values.
template <class T>
ECOM_INLINE void cholesky_solve(int k, const T* g, const T* rows, const std::uint32_t* idx,
                                const T* conf, std::size_t n, T* x, T* scratch) {
  const std::size_t kk = static_cast<std::size_t>(k);
  T* a = scratch;            // k x k
  T* l = scratch + kk * kk;  // k x k, lower, row-major
  T* b = l + kk * kk;        // k
  T* z = b + kk;             // k
  for (std::size_t i = 0; i < kk * kk; ++i) a[i] = g[i];
  for (int i = 0; i < k; ++i) b[i] = T(0);
  for (std::size_t t = 0; t < n; ++t) {
    const T* y = rows + static_cast<std::size_t>(idx[t]) * kk;
    const T c = conf[t];
    const T w = c - T(1);
    axpy(k, c, y, b);
    for (int i = 0; i < k; ++i) {
      const T wy = w * y[i];
      T* ai = a + static_cast<std::size_t>(i) * kk;
      for (int j = i; j < k; ++j) ai[j] += wy * y[j];  // upper triangle
    }
  }
  for (std::size_t i = 0; i < kk * kk; ++i) l[i] = T(0);
  for (int j = 0; j < k; ++j) {
    T* lj = l + static_cast<std::size_t>(j) * kk;
    const T d = a[static_cast<std::size_t>(j) * kk + j] - dot(j, lj, lj);
    const T djj = std::sqrt(d > T(0) ? d : T(0));
    lj[j] = djj;
    for (int i = j + 1; i < k; ++i) {
      T* li = l + static_cast<std::size_t>(i) * kk;
      const T v = a[static_cast<std::size_t>(j) * kk + i] - dot(j, li, lj);
      li[j] = djj > T(0) ? v / djj : T(0);
    }
  }
  // L z = b
  for (int i = 0; i < k; ++i) {
    const T* li = l + static_cast<std::size_t>(i) * kk;
    z[i] = li[i] > T(0) ? (b[i] - dot(i, li, z)) / li[i] : T(0);
  }
  // L^T x = z
  for (int i = k - 1; i >= 0; --i) {
    T s = z[i];
    for (int j = i + 1; j < k; ++j) s -= l[static_cast<std::size_t>(j) * kk + i] * x[j];
    const T lii = l[static_cast<std::size_t>(i) * kk + i];
    x[i] = lii > T(0) ? s / lii : T(0);
  }
}

}  // namespace ecom::ml::kernel
