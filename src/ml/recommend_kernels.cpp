// Scoring kernels of the recommender, cloned per instruction set. Every lane sums j ascending
// and the build uses -ffp-contract=off: the same bits in every clone.
#include <cstring>

#include "recommend_detail.hpp"

namespace ecom::ml::detail {

typedef double v8d __attribute__((vector_size(64)));
typedef float v16f __attribute__((vector_size(64)));

// out[u][i] = sum_j xs[u][j] * panel_item_i[j], j ascending, for 4-user x 2-panel tiles.
// xs: n_users (multiple of 4) x k; panels: n_panels (even) x k x L.
template <class T, class V>
ECOM_INLINE void score_block_impl(int k, const T* xs, std::size_t n_users, const T* panels,
                                  std::size_t n_panels, T* out, std::size_t out_stride) {
  constexpr std::size_t L = sizeof(V) / sizeof(T);
  const auto kk = static_cast<std::size_t>(k);
  for (std::size_t p = 0; p < n_panels; p += 2) {
    const T* p0 = panels + p * kk * L;
    const T* p1 = p0 + kk * L;
    for (std::size_t u = 0; u < n_users; u += 4) {
      const T* x0 = xs + u * kk;
      const T* x1 = x0 + kk;
      const T* x2 = x1 + kk;
      const T* x3 = x2 + kk;
      V a00 = {}, a01 = {}, a10 = {}, a11 = {}, a20 = {}, a21 = {}, a30 = {}, a31 = {};
      for (std::size_t j = 0; j < kk; ++j) {
        V y0, y1;
        std::memcpy(&y0, p0 + j * L, sizeof(V));
        std::memcpy(&y1, p1 + j * L, sizeof(V));
        a00 += x0[j] * y0;
        a01 += x0[j] * y1;
        a10 += x1[j] * y0;
        a11 += x1[j] * y1;
        a20 += x2[j] * y0;
        a21 += x2[j] * y1;
        a30 += x3[j] * y0;
        a31 += x3[j] * y1;
      }
      T* o = out + u * out_stride + p * L;
      std::memcpy(o, &a00, sizeof(V));
      std::memcpy(o + L, &a01, sizeof(V));
      std::memcpy(o + out_stride, &a10, sizeof(V));
      std::memcpy(o + out_stride + L, &a11, sizeof(V));
      std::memcpy(o + 2 * out_stride, &a20, sizeof(V));
      std::memcpy(o + 2 * out_stride + L, &a21, sizeof(V));
      std::memcpy(o + 3 * out_stride, &a30, sizeof(V));
      std::memcpy(o + 3 * out_stride + L, &a31, sizeof(V));
    }
  }
}

__attribute__((target_clones("default", "avx2", "avx512f"))) void score_block_f64(
    int k, const double* xs, std::size_t n_users, const double* panels, std::size_t n_panels,
    double* out, std::size_t stride) {
  score_block_impl<double, v8d>(k, xs, n_users, panels, n_panels, out, stride);
}
__attribute__((target_clones("default", "avx2", "avx512f"))) void score_block_f32(
    int k, const float* xs, std::size_t n_users, const float* panels, std::size_t n_panels,
    float* out, std::size_t stride) {
  score_block_impl<float, v16f>(k, xs, n_users, panels, n_panels, out, stride);
}
void score_block(int k, const double* xs, std::size_t n, const double* p, std::size_t np,
                 double* out, std::size_t stride) {
  score_block_f64(k, xs, n, p, np, out, stride);
}
void score_block(int k, const float* xs, std::size_t n, const float* p, std::size_t np, float* out,
                 std::size_t stride) {
  score_block_f32(k, xs, n, p, np, out, stride);
}

// Maximum of s[0..n) (n > 0), for skipping chunks that cannot enter a top list.
template <class T>
ECOM_INLINE T max_of_impl(const T* s, std::size_t n) {
  T m[8];
  std::size_t i = 0;
  for (int l = 0; l < 8; ++l) m[l] = s[0];
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) m[l] = s[i + l] > m[l] ? s[i + l] : m[l];
  T r = m[0];
  for (int l = 1; l < 8; ++l) r = m[l] > r ? m[l] : r;
  for (; i < n; ++i) r = s[i] > r ? s[i] : r;
  return r;
}
__attribute__((target_clones("default", "avx2", "avx512f"))) double max_of_f64(const double* s,
                                                                               std::size_t n) {
  return max_of_impl(s, n);
}
__attribute__((target_clones("default", "avx2", "avx512f"))) float max_of_f32(const float* s,
                                                                              std::size_t n) {
  return max_of_impl(s, n);
}
double max_of(const double* s, std::size_t n) { return max_of_f64(s, n); }
float max_of(const float* s, std::size_t n) { return max_of_f32(s, n); }

// Counts of s[i] > v and s[i] == v over s[0..n).
template <class T>
ECOM_INLINE void count_cmp_impl(const T* s, std::size_t n, T v, std::uint64_t& gt,
                                std::uint64_t& eq) {
  std::uint32_t g = 0, e = 0;
  for (std::size_t i = 0; i < n; ++i) {
    g += s[i] > v ? 1U : 0U;
    e += s[i] == v ? 1U : 0U;
  }
  gt += g;
  eq += e;
}
__attribute__((target_clones("default", "avx2", "avx512f"))) void count_cmp_f64(
    const double* s, std::size_t n, double v, std::uint64_t& gt, std::uint64_t& eq) {
  count_cmp_impl(s, n, v, gt, eq);
}
__attribute__((target_clones("default", "avx2", "avx512f"))) void count_cmp_f32(
    const float* s, std::size_t n, float v, std::uint64_t& gt, std::uint64_t& eq) {
  count_cmp_impl(s, n, v, gt, eq);
}
void count_cmp(const double* s, std::size_t n, double v, std::uint64_t& gt, std::uint64_t& eq) {
  count_cmp_f64(s, n, v, gt, eq);
}
void count_cmp(const float* s, std::size_t n, float v, std::uint64_t& gt, std::uint64_t& eq) {
  count_cmp_f32(s, n, v, gt, eq);
}

// [begin, end) of each user's pairs in `interactions` (both sorted by user).
std::vector<std::size_t> pair_offsets(std::span<const std::uint64_t> users,
                                      std::span<const Interaction> interactions) {
  std::vector<std::size_t> off(users.size() + 1, 0);
  std::size_t t = 0;
  for (std::size_t u = 0; u < users.size(); ++u) {
    while (t < interactions.size() && interactions[t].user < users[u]) ++t;
    off[u] = t;
    while (t < interactions.size() && interactions[t].user == users[u]) ++t;
    off[u + 1] = t;
  }
  // Pairs of users not in the list are ignored (off[u+1] of the last covered user).
  return off;
}

}  // namespace ecom::ml::detail
