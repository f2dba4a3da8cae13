#include "ecom/ml/recommend.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <sstream>
#include <type_traits>

#include "als_kernels.hpp"
#include "ecom/core/error.hpp"
#include "ecom/core/hash.hpp"
#include "ecom/par/random.hpp"

namespace ecom::ml {

const char* name_of(RecSource s) {
  switch (s) {
    case RecSource::als:
      return "als";
    case RecSource::category_popular:
      return "category_popular";
    case RecSource::popular:
      return "popular";
  }
  return "?";
}

Exclusion parse_exclusion(const std::string& s) {
  if (s == "none") return Exclusion::none;
  if (s == "purchased") return Exclusion::purchased;
  if (s == "interacted") return Exclusion::interacted;
  throw UserError("als: exclude must be none, purchased or interacted, not \"" + s + "\"");
}

const char* name_of(Exclusion e) {
  switch (e) {
    case Exclusion::none:
      return "none";
    case Exclusion::purchased:
      return "purchased";
    case Exclusion::interacted:
      return "interacted";
  }
  return "?";
}

std::size_t Catalogue::index_of(std::uint64_t product) const {
  auto it = std::lower_bound(products.begin(), products.end(), product);
  if (it == products.end() || *it != product) return products.size();
  return static_cast<std::size_t>(it - products.begin());
}

double als_score(int k, const double* x, const double* y) {
  double s = 0.0;
  for (int j = 0; j < k; ++j) s += x[j] * y[j];
  return s;
}
float als_score(int k, const float* x, const float* y) {
  float s = 0.0F;
  for (int j = 0; j < k; ++j) s += x[j] * y[j];
  return s;
}

namespace {

// ---- catalogue --------------------------------------------------------------------------

struct PopRecord {
  std::uint64_t product;
  std::uint64_t category;
  double strength;  // training strength, 0 for other pairs
};
static_assert(sizeof(PopRecord) == 24);

struct CatalogueRow {
  std::uint64_t product;
  std::uint64_t category;
  double popularity;
};

// ---- blocked scoring --------------------------------------------------------------------

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

// The item factors in panels of L items (transposed: for each j, L consecutive items), padded
// with zero items to an even number of panels. Items are laid out in catalogue order, or by
// decreasing norm |y_i| (ties: catalogue order) for pruned top-N scoring. An item's score is
// the same bits wherever it sits (every lane sums j ascending).
template <class T>
class Scorer {
 public:
  static constexpr std::size_t kLanes = 64 / sizeof(T);
  static constexpr std::size_t kBlockPanels = 64;  // items per block: 64 L (512 doubles)
  static constexpr std::size_t kBlockItems = kBlockPanels * kLanes;

  Scorer(const Catalogue& cat, bool by_norm) : k_(cat.factors), n_(cat.size()), by_norm_(by_norm) {
    const auto kk = static_cast<std::size_t>(k_);
    std::vector<double> norm(n_, 0.0);
    for (std::size_t i = 0; i < n_; ++i) {
      double s = 0;
      for (std::size_t j = 0; j < kk; ++j) {
        const auto y = static_cast<double>(static_cast<T>(cat.item_factors[i * kk + j]));
        s += y * y;
      }
      norm[i] = std::sqrt(s);
    }
    order_.resize(n_);
    std::iota(order_.begin(), order_.end(), 0U);
    if (by_norm)
      std::stable_sort(order_.begin(), order_.end(),
                       [&](std::uint32_t a, std::uint32_t b) { return norm[a] > norm[b]; });
    n_panels_ = (n_ + kLanes - 1) / kLanes;
    n_panels_ += n_panels_ % 2;
    panels_.assign(n_panels_ * kk * kLanes, T(0));
    for (std::size_t pos = 0; pos < n_; ++pos) {
      const std::size_t i = order_[pos], p = pos / kLanes, l = pos % kLanes;
      for (std::size_t j = 0; j < kk; ++j)
        panels_[(p * kk + j) * kLanes + l] = static_cast<T>(cat.item_factors[i * kk + j]);
    }
    // Largest item norm of each block (its first item when sorted by norm).
    for (std::size_t first = 0; first < n_; first += kBlockItems) {
      double m = 0;
      for (std::size_t pos = first; pos < std::min(n_, first + kBlockItems); ++pos)
        m = std::max(m, norm[order_[pos]]);
      block_norm_.push_back(m);
    }
  }

  std::size_t items() const { return n_; }

  // Scores the users xs (n_users x k) against every item, one block of items at a time:
  // visit(u, scores, n, items) where scores[i] is the score of catalogue item items[i], i < n.
  template <class Visit>
  void score(const T* xs, std::size_t n_users, Visit&& visit) {
    score_pruned(xs, n_users, visit,
                 [](std::size_t) { return -std::numeric_limits<T>::infinity(); });
  }

  // The same, skipping for user u every block whose items cannot score threshold(u) or more
  // (Cauchy-Schwarz: x.y <= |x| max|y|, with a margin for the rounding of the sums); with the
  // items sorted by norm, the scan of a user block ends when no user's bound reaches its
  // threshold. threshold(u) may rise between blocks (the current k-th best score).
  template <class Visit, class Threshold>
  void score_pruned(const T* xs, std::size_t n_users, Visit&& visit, Threshold&& threshold) {
    const auto kk = static_cast<std::size_t>(k_);
    constexpr double kMargin = sizeof(T) == 4 ? 1e-4 : 1e-9;
    xnorm_.resize(n_users);
    for (std::size_t u = 0; u < n_users; ++u) {
      double s = 0;
      for (std::size_t j = 0; j < kk; ++j) {
        const auto x = static_cast<double>(xs[u * kk + j]);
        s += x * x;
      }
      xnorm_[u] = std::sqrt(s) * (1.0 + kMargin);
    }
    const std::size_t stride = kBlockItems;
    xs_.resize((n_users + 3) / 4 * 4 * kk);
    out_.resize((n_users + 3) / 4 * 4 * stride);
    active_.clear();
    for (std::size_t b = 0; b * kBlockItems < n_; ++b) {
      active_.clear();
      for (std::size_t u = 0; u < n_users; ++u)
        if (!(xnorm_[u] * block_norm_[b] < static_cast<double>(threshold(u)))) active_.push_back(u);
      if (active_.empty()) {
        if (by_norm_) break;  // later blocks have smaller norms
        continue;
      }
      const std::size_t na4 = (active_.size() + 3) / 4 * 4;
      for (std::size_t a = 0; a < na4; ++a) {
        T* dst = xs_.data() + a * kk;
        if (a < active_.size())
          std::copy_n(xs + active_[a] * kk, kk, dst);
        else
          std::fill_n(dst, kk, T(0));
      }
      const std::size_t p0 = b * kBlockPanels;
      const std::size_t np = std::min(kBlockPanels, n_panels_ - p0);
      score_block(k_, xs_.data(), na4, panels_.data() + p0 * kk * kLanes, np, out_.data(), stride);
      const std::size_t first = b * kBlockItems;
      const std::size_t n = std::min(n_, first + kBlockItems) - first;
      for (std::size_t a = 0; a < active_.size(); ++a)
        visit(active_[a], out_.data() + a * stride, n, order_.data() + first);
    }
  }

 private:
  int k_;
  std::size_t n_;
  bool by_norm_;
  std::size_t n_panels_ = 0;
  std::vector<std::uint32_t> order_;  // catalogue index of each position
  std::vector<double> block_norm_, xnorm_;
  std::vector<std::size_t> active_;
  std::vector<T> panels_, xs_, out_;
};

// Best `cap` (score, item) pairs: higher score first, ties to the lower item index (= lower
// product id, the catalogue being in product order).
template <class T>
class TopList {
 public:
  explicit TopList(std::size_t cap) : cap_(cap) {
    score_.reserve(cap);
    item_.reserve(cap);
  }
  void clear() {
    score_.clear();
    item_.clear();
  }
  bool full() const { return score_.size() >= cap_; }
  // Scores below this cannot enter (-inf while not full).
  T threshold() const {
    return full() && cap_ > 0 ? score_.back() : -std::numeric_limits<T>::infinity();
  }
  void offer(T s, std::uint32_t i) {
    if (cap_ == 0) return;
    if (full() && !(s > score_.back() || (s == score_.back() && i < item_.back()))) return;
    std::size_t pos = score_.size();
    while (pos > 0 && (s > score_[pos - 1] || (s == score_[pos - 1] && i < item_[pos - 1]))) --pos;
    if (full()) {
      score_.pop_back();
      item_.pop_back();
    }
    score_.insert(score_.begin() + static_cast<std::ptrdiff_t>(pos), s);
    item_.insert(item_.begin() + static_cast<std::ptrdiff_t>(pos), i);
  }
  std::size_t size() const { return score_.size(); }
  T score(std::size_t r) const { return score_[r]; }
  std::uint32_t item(std::size_t r) const { return item_[r]; }

 private:
  std::size_t cap_;
  std::vector<T> score_;
  std::vector<std::uint32_t> item_;
};

// Offers the items of one scored block to a top list, skipping excluded items (catalogue
// indices, sorted): scores[i] is item items[i]'s.
template <class T>
ECOM_INLINE void scan_block(const T* scores, std::size_t n, const std::uint32_t* items,
                            TopList<T>& top, const std::vector<std::uint32_t>& excluded) {
  constexpr std::size_t kChunk = 64;
  for (std::size_t c = 0; c < n; c += kChunk) {
    const std::size_t ce = std::min(n, c + kChunk);
    if (max_of(scores + c, ce - c) < top.threshold()) continue;
    for (std::size_t i = c; i < ce; ++i) {
      const T s = scores[i];
      if (s < top.threshold()) continue;
      const std::uint32_t item = items[i];
      if (!excluded.empty() && std::binary_search(excluded.begin(), excluded.end(), item)) continue;
      top.offer(s, item);
    }
  }
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

// Catalogue indices by (popularity desc, product asc); category lists likewise.
struct PopularityOrder {
  std::vector<std::uint32_t> global;
  std::vector<std::uint32_t> by_category;  // grouped by category, each group by popularity
  std::vector<std::pair<std::uint64_t, std::pair<std::size_t, std::size_t>>> categories;

  explicit PopularityOrder(const Catalogue& cat) {
    global.resize(cat.size());
    std::iota(global.begin(), global.end(), 0U);
    auto more_popular = [&](std::uint32_t a, std::uint32_t b) {
      if (cat.popularity[a] != cat.popularity[b]) return cat.popularity[a] > cat.popularity[b];
      return a < b;
    };
    std::sort(global.begin(), global.end(), more_popular);
    by_category = global;
    std::stable_sort(by_category.begin(), by_category.end(), [&](std::uint32_t a, std::uint32_t b) {
      return cat.category[a] < cat.category[b];
    });
    std::size_t i = 0;
    while (i < by_category.size()) {
      std::size_t j = i;
      const std::uint64_t c = cat.category[by_category[i]];
      while (j < by_category.size() && cat.category[by_category[j]] == c) ++j;
      categories.push_back({c, {i, j}});
      i = j;
    }
  }
  std::pair<std::size_t, std::size_t> category_range(std::uint64_t c) const {
    auto it = std::lower_bound(categories.begin(), categories.end(), c,
                               [](const auto& e, std::uint64_t v) { return e.first < v; });
    if (it == categories.end() || it->first != c) return {0, 0};
    return it->second;
  }
};

template <class T>
std::vector<T> rows_as(const std::vector<double>& rows) {
  return std::vector<T>(rows.begin(), rows.end());
}

// ---- top-N --------------------------------------------------------------------------

template <class T>
std::vector<Recommendation> top_n_impl(par::Comm& comm, const AlsModel& model, const Catalogue& cat,
                                       std::span<const Interaction> interactions,
                                       const RecommendConfig& cfg, TopNStats* stats) {
  const auto t0 = std::chrono::steady_clock::now();
  const int k = model.factors;
  const auto kk = static_cast<std::size_t>(k);
  const std::size_t n_users = model.users.size();
  const auto cap = static_cast<std::size_t>(std::max(0, cfg.top_n));
  const auto off = pair_offsets(model.users, interactions);

  auto exclusions = [&](std::size_t u, std::vector<std::uint32_t>& out) {
    out.clear();
    if (cfg.exclude == Exclusion::none) return;
    for (std::size_t t = off[u]; t < off[u + 1]; ++t) {
      const Interaction& it = interactions[t];
      if (cfg.exclude == Exclusion::purchased && !it.purchased()) continue;
      const std::size_t i = cat.index_of(it.product);
      if (i < cat.size()) out.push_back(static_cast<std::uint32_t>(i));
    }
    std::sort(out.begin(), out.end());
  };

  std::vector<std::vector<Recommendation>> per_user(n_users);
  // ALS users, in blocks.
  {
    Scorer<T> scorer(cat, /*by_norm=*/true);
    const std::vector<T> xs_all = rows_as<T>(model.user_factors);
    const auto block = static_cast<std::size_t>(std::max(4, cfg.user_block));
    std::vector<std::size_t> served;
    for (std::size_t u = 0; u < n_users; ++u)
      if (model.user_train_count[u] > 0) served.push_back(u);
    std::vector<T> xs;
    std::vector<TopList<T>> tops(block, TopList<T>(cap));
    std::vector<std::vector<std::uint32_t>> excl(block);
    for (std::size_t b = 0; b < served.size(); b += block) {
      const std::size_t nb = std::min(block, served.size() - b);
      xs.resize(nb * kk);
      for (std::size_t t = 0; t < nb; ++t) {
        std::copy_n(xs_all.data() + served[b + t] * kk, kk, xs.data() + t * kk);
        tops[t].clear();
        exclusions(served[b + t], excl[t]);
      }
      scorer.score_pruned(
          xs.data(), nb,
          [&](std::size_t t, const T* s, std::size_t n, const std::uint32_t* items) {
            scan_block(s, n, items, tops[t], excl[t]);
          },
          [&](std::size_t t) { return tops[t].threshold(); });
      for (std::size_t t = 0; t < nb; ++t) {
        const std::size_t u = served[b + t];
        auto& rows = per_user[u];
        for (std::size_t r = 0; r < tops[t].size(); ++r) {
          Recommendation rec;
          rec.user = model.users[u];
          rec.product = cat.products[tops[t].item(r)];
          rec.score = static_cast<double>(tops[t].score(r));
          rec.rank = static_cast<std::uint32_t>(r + 1);
          rec.source = RecSource::als;
          rows.push_back(rec);
        }
      }
    }
  }
  // Fallback users: their categories' popular products, then global popularity.
  {
    const PopularityOrder order(cat);
    std::vector<std::uint32_t> excl, chosen;
    std::vector<std::pair<std::uint64_t, std::uint32_t>> cat_counts;
    for (std::size_t u = 0; u < n_users; ++u) {
      if (model.user_train_count[u] > 0) continue;
      exclusions(u, excl);
      chosen.clear();
      auto& rows = per_user[u];
      auto take = [&](std::uint32_t i, RecSource src) {
        if (rows.size() >= cap) return;
        if (std::binary_search(excl.begin(), excl.end(), i)) return;
        if (std::find(chosen.begin(), chosen.end(), i) != chosen.end()) return;
        chosen.push_back(i);
        Recommendation rec;
        rec.user = model.users[u];
        rec.product = cat.products[i];
        rec.score = cat.popularity[i];
        rec.rank = static_cast<std::uint32_t>(rows.size() + 1);
        rec.source = src;
        rows.push_back(rec);
      };
      cat_counts.clear();
      for (std::size_t t = off[u]; t < off[u + 1]; ++t) {
        const std::uint64_t c = interactions[t].category_id;
        auto it = std::find_if(cat_counts.begin(), cat_counts.end(),
                               [c](const auto& e) { return e.first == c; });
        if (it == cat_counts.end())
          cat_counts.push_back({c, 1});
        else
          ++it->second;
      }
      std::sort(cat_counts.begin(), cat_counts.end(), [](const auto& a, const auto& b) {
        if (a.second != b.second) return a.second > b.second;
        return a.first < b.first;
      });
      const std::size_t n_cats = std::min(
          cat_counts.size(), static_cast<std::size_t>(std::max(0, cfg.fallback_categories)));
      for (std::size_t c = 0; c < n_cats && rows.size() < cap; ++c) {
        const auto [b, e] = order.category_range(cat_counts[c].first);
        for (std::size_t i = b; i < e && rows.size() < cap; ++i)
          take(order.by_category[i], RecSource::category_popular);
      }
      for (std::size_t i = 0; i < order.global.size() && rows.size() < cap; ++i)
        take(order.global[i], RecSource::popular);
    }
  }

  std::vector<Recommendation> out;
  std::vector<std::uint8_t> recommended(cat.size(), 0);
  std::uint64_t counts[6] = {0, 0, 0, 0, 0, 0};
  for (auto& rows : per_user) {
    if (!rows.empty()) ++counts[3 + static_cast<int>(rows.front().source)];
    for (const auto& r : rows) {
      ++counts[static_cast<int>(r.source)];
      recommended[cat.index_of(r.product)] = 1;
      out.push_back(r);
    }
  }
  if (stats) {
    comm.allreduce_sum(std::span<std::uint64_t>(counts, 6));
    comm.allreduce_max(std::span<std::uint8_t>(recommended));
    for (int s = 0; s < 3; ++s) {
      stats->rows[s] = counts[s];
      stats->users[s] = counts[3 + s];
    }
    const auto distinct = std::count(recommended.begin(), recommended.end(), 1);
    stats->coverage =
        cat.size() ? static_cast<double>(distinct) / static_cast<double>(cat.size()) : 0.0;
    stats->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  return out;
}

// ---- evaluation ---------------------------------------------------------------------------

struct EvalUser {
  std::size_t user;                     // index into model.users
  std::vector<std::uint32_t> train;     // catalogue indices, sorted
  std::vector<std::uint32_t> test;      // catalogue indices, sorted
  std::vector<std::uint64_t> relevant;  // test products, sorted
  bool auc = false;                     // in the AUC sample
};

bool in_auc_sample(std::uint64_t seed, std::uint64_t user, double share) {
  return par::uniform(seed, par::Purpose::split, user, 0xffffffffU) < share;
}

// AUC counts of one user given the scores of its positives, training items and the counts of
// items scoring above / equal to each positive over the whole catalogue.
template <class S>
void add_auc(RankingSums& sums, std::size_t n_items, const std::vector<S>& pos_scores,
             const std::vector<S>& train_scores, const std::vector<std::uint64_t>& gt_all,
             const std::vector<std::uint64_t>& eq_all) {
  const std::size_t m = pos_scores.size();
  if (n_items < train_scores.size() + m) return;
  const std::size_t n_neg = n_items - train_scores.size() - m;
  if (n_neg == 0 || m == 0) return;
  std::uint64_t greater = 0, equal = 0;
  for (std::size_t p = 0; p < m; ++p) {
    const S ps = pos_scores[p];
    std::uint64_t g = gt_all[p], e = eq_all[p];
    for (S s : train_scores) {
      g -= s > ps ? 1 : 0;
      e -= s == ps ? 1 : 0;
    }
    for (S s : pos_scores) {
      g -= s > ps ? 1 : 0;
      e -= s == ps ? 1 : 0;
    }
    greater += g;
    equal += e;
  }
  sums.add_auc(auc_from_counts(greater, equal, m, n_neg));
}

template <class T>
Evaluation evaluate_impl(par::Comm& comm, const AlsModel& model, const Catalogue& cat,
                         std::span<const Interaction> interactions, const EvaluationConfig& cfg) {
  const auto t0 = std::chrono::steady_clock::now();
  const int k = model.factors;
  const auto kk = static_cast<std::size_t>(k);
  const auto cut = static_cast<std::size_t>(std::max(1, cfg.k));
  const auto off = pair_offsets(model.users, interactions);

  std::vector<EvalUser> eval_users;
  std::uint64_t test_pairs = 0;
  for (std::size_t u = 0; u < model.users.size(); ++u) {
    EvalUser e;
    e.user = u;
    for (std::size_t t = off[u]; t < off[u + 1]; ++t) {
      const Interaction& it = interactions[t];
      const std::size_t i = cat.index_of(it.product);
      if (i >= cat.size()) continue;
      if (is_train(it)) e.train.push_back(static_cast<std::uint32_t>(i));
      if (is_test(it)) {
        e.test.push_back(static_cast<std::uint32_t>(i));
        e.relevant.push_back(it.product);
        ++test_pairs;
      }
    }
    if (e.test.empty() || e.train.empty() || model.user_train_count[u] == 0) continue;
    std::sort(e.train.begin(), e.train.end());
    std::sort(e.test.begin(), e.test.end());
    std::sort(e.relevant.begin(), e.relevant.end());
    eval_users.push_back(std::move(e));
  }
  // AUC needs every item's score: over a keyed sample of about cfg.auc_users users (all when
  // there are fewer), the same for both recommenders and for any number of ranks.
  const std::uint64_t n_eval = comm.allreduce_sum<std::uint64_t>(eval_users.size());
  const double auc_share = !cfg.auc ? 0.0
                           : (cfg.auc_users == 0 || n_eval <= cfg.auc_users)
                               ? 1.0
                               : static_cast<double>(cfg.auc_users) / static_cast<double>(n_eval);
  std::vector<std::size_t> lists[2];  // [0]: AUC sample (full scores), [1]: the others (pruned)
  for (std::size_t i = 0; i < eval_users.size(); ++i) {
    EvalUser& e = eval_users[i];
    e.auc = auc_share >= 1.0 ||
            (auc_share > 0.0 && in_auc_sample(cfg.seed, model.users[e.user], auc_share));
    lists[e.auc ? 0 : 1].push_back(i);
  }

  RankingSums als_sums, pop_sums;
  std::vector<std::uint8_t> als_rec(cat.size(), 0), pop_rec(cat.size(), 0);
  const std::size_t n_items = cat.size();

  // ALS: full scores of the AUC sample, a pruned top-k scan for the others.
  {
    Scorer<T> scorer(cat, /*by_norm=*/true);
    const std::vector<T> xs_all = rows_as<T>(model.user_factors);
    const std::vector<T> ys_all = rows_as<T>(cat.item_factors);
    const auto block = static_cast<std::size_t>(std::max(4, cfg.user_block));
    std::vector<T> xs;
    std::vector<TopList<T>> tops(block, TopList<T>(cut));
    std::vector<std::vector<T>> pos_scores(block), train_scores(block);
    std::vector<std::vector<std::uint64_t>> gt(block), eq(block);
    std::vector<std::uint64_t> ranked;
    for (const std::vector<std::size_t>& list : lists)
      for (std::size_t b = 0; b < list.size(); b += block) {
        const std::size_t nb = std::min(block, list.size() - b);
        const bool with_auc = eval_users[list[b]].auc;
        xs.resize(nb * kk);
        for (std::size_t t = 0; t < nb; ++t) {
          const EvalUser& e = eval_users[list[b + t]];
          const T* x = xs_all.data() + e.user * kk;
          std::copy_n(x, kk, xs.data() + t * kk);
          tops[t].clear();
          pos_scores[t].clear();
          train_scores[t].clear();
          for (std::uint32_t i : e.test)
            pos_scores[t].push_back(als_score(k, x, ys_all.data() + i * kk));
          for (std::uint32_t i : e.train)
            train_scores[t].push_back(als_score(k, x, ys_all.data() + i * kk));
          gt[t].assign(e.test.size(), 0);
          eq[t].assign(e.test.size(), 0);
        }
        const auto visit = [&](std::size_t t, const T* s, std::size_t n,
                               const std::uint32_t* items) {
          scan_block(s, n, items, tops[t], eval_users[list[b + t]].train);
          if (with_auc)
            for (std::size_t p = 0; p < pos_scores[t].size(); ++p)
              count_cmp(s, n, pos_scores[t][p], gt[t][p], eq[t][p]);
        };
        if (with_auc)  // AUC needs every item's score
          scorer.score(xs.data(), nb, visit);
        else
          scorer.score_pruned(xs.data(), nb, visit,
                              [&](std::size_t t) { return tops[t].threshold(); });
        for (std::size_t t = 0; t < nb; ++t) {
          const EvalUser& e = eval_users[list[b + t]];
          ranked.clear();
          for (std::size_t r = 0; r < tops[t].size(); ++r) {
            ranked.push_back(cat.products[tops[t].item(r)]);
            als_rec[tops[t].item(r)] = 1;
          }
          als_sums.add(score_ranking(ranked, e.relevant, static_cast<int>(cut)));
          if (with_auc) add_auc(als_sums, n_items, pos_scores[t], train_scores[t], gt[t], eq[t]);
        }
      }
  }

  // Popularity: the same ranking protocol with score = popularity.
  {
    const PopularityOrder order(cat);
    std::vector<double> sorted_pop(cat.popularity);
    std::sort(sorted_pop.begin(), sorted_pop.end());
    std::vector<std::uint64_t> ranked, gt_all, eq_all;
    std::vector<double> pos_scores, train_scores;
    for (const EvalUser& e : eval_users) {
      ranked.clear();
      for (std::size_t r = 0; r < order.global.size() && ranked.size() < cut; ++r) {
        const std::uint32_t i = order.global[r];
        if (std::binary_search(e.train.begin(), e.train.end(), i)) continue;
        ranked.push_back(cat.products[i]);
        pop_rec[i] = 1;
      }
      pop_sums.add(score_ranking(ranked, e.relevant, static_cast<int>(cut)));
      if (!e.auc) continue;
      pos_scores.clear();
      train_scores.clear();
      gt_all.clear();
      eq_all.clear();
      for (std::uint32_t i : e.test) {
        const double ps = cat.popularity[i];
        pos_scores.push_back(ps);
        const auto lo = std::lower_bound(sorted_pop.begin(), sorted_pop.end(), ps);
        const auto hi = std::upper_bound(sorted_pop.begin(), sorted_pop.end(), ps);
        gt_all.push_back(static_cast<std::uint64_t>(sorted_pop.end() - hi));
        eq_all.push_back(static_cast<std::uint64_t>(hi - lo));
      }
      for (std::uint32_t i : e.train) train_scores.push_back(cat.popularity[i]);
      add_auc(pop_sums, n_items, pos_scores, train_scores, gt_all, eq_all);
    }
  }

  // Combine exactly across ranks.
  std::uint64_t counts[5] = {als_sums.users(), als_sums.auc_users(), pop_sums.users(),
                             pop_sums.auc_users(), test_pairs};
  comm.allreduce_sum(std::span<std::uint64_t>(counts, 5));
  const std::vector<double> als_g = comm.exact_sum(als_sums.sums());
  const std::vector<double> pop_g = comm.exact_sum(pop_sums.sums());
  comm.allreduce_max(std::span<std::uint8_t>(als_rec));
  comm.allreduce_max(std::span<std::uint8_t>(pop_rec));
  Evaluation ev;
  ev.als = RankingSums::finish(als_g, counts[0], counts[1], static_cast<int>(cut));
  ev.popularity = RankingSums::finish(pop_g, counts[2], counts[3], static_cast<int>(cut));
  const double n = static_cast<double>(std::max<std::size_t>(1, cat.size()));
  ev.als.coverage = static_cast<double>(std::count(als_rec.begin(), als_rec.end(), 1)) / n;
  ev.popularity.coverage = static_cast<double>(std::count(pop_rec.begin(), pop_rec.end(), 1)) / n;
  ev.test_pairs = counts[4];
  ev.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return ev;
}

}  // namespace

Catalogue gather_catalogue(par::Comm& comm, const AlsModel& model,
                           std::span<const Interaction> interactions, std::uint32_t vshards,
                           std::size_t budget_bytes) {
  const par::VShardMap map(vshards, comm.size());
  const auto kk = static_cast<std::size_t>(model.factors);
  std::vector<PopRecord> out(interactions.size());
  for (std::size_t i = 0; i < interactions.size(); ++i)
    out[i] = {interactions[i].product, interactions[i].category_id,
              is_train(interactions[i]) ? interactions[i].strength : 0.0};
  const std::vector<PopRecord> in = comm.exchange<PopRecord>(
      out, [&](const PopRecord& r) { return item_owner(map, r.product); }, budget_bytes);

  // model.items is sorted by product_hash.
  const std::size_t n_own = model.items.size();
  std::vector<std::uint64_t> own_hash(n_own);
  for (std::size_t i = 0; i < n_own; ++i) own_hash[i] = product_hash(model.items[i]);
  std::vector<double> popularity(n_own, 0.0);
  std::vector<std::pair<std::uint32_t, std::uint64_t>> item_category;
  item_category.reserve(in.size());
  std::string problem;
  for (const PopRecord& r : in) {
    const auto it = std::lower_bound(own_hash.begin(), own_hash.end(), product_hash(r.product));
    if (it == own_hash.end() || *it != product_hash(r.product)) {
      problem = "als: a product of the interactions is missing from the model";
      break;
    }
    const auto i = static_cast<std::uint32_t>(it - own_hash.begin());
    popularity[i] += r.strength;  // in ascending user order whatever P
    item_category.push_back({i, r.category});
  }
  par::agree(comm, problem, ExitCode::internal);
  std::sort(item_category.begin(), item_category.end());
  std::vector<std::uint64_t> category(n_own, 0);
  {
    std::vector<std::uint64_t> best_count(n_own, 0);
    std::size_t a = 0;
    while (a < item_category.size()) {
      std::size_t b = a;
      while (b < item_category.size() && item_category[b] == item_category[a]) ++b;
      const std::uint32_t i = item_category[a].first;
      if (b - a > best_count[i]) {  // categories ascending: ties keep the lower id
        best_count[i] = b - a;
        category[i] = item_category[a].second;
      }
      a = b;
    }
  }
  std::vector<CatalogueRow> rows(n_own);
  for (std::size_t i = 0; i < n_own; ++i) rows[i] = {model.items[i], category[i], popularity[i]};
  const std::vector<CatalogueRow> all_rows = comm.allgatherv<CatalogueRow>(rows);
  const std::vector<double> all_factors = comm.allgatherv<double>(model.item_factors);

  Catalogue cat;
  cat.factors = model.factors;
  std::vector<std::size_t> order(all_rows.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return all_rows[a].product < all_rows[b].product;
  });
  cat.products.resize(order.size());
  cat.category.resize(order.size());
  cat.popularity.resize(order.size());
  cat.item_factors.resize(order.size() * kk);
  for (std::size_t t = 0; t < order.size(); ++t) {
    const CatalogueRow& r = all_rows[order[t]];
    cat.products[t] = r.product;
    cat.category[t] = r.category;
    cat.popularity[t] = r.popularity;
    std::copy_n(all_factors.data() + order[t] * kk, kk, cat.item_factors.data() + t * kk);
  }
  return cat;
}

std::vector<Recommendation> recommend_top_n(par::Comm& comm, const AlsModel& model,
                                            const Catalogue& catalogue,
                                            std::span<const Interaction> interactions,
                                            const RecommendConfig& config, TopNStats* stats) {
  if (model.precision == FactorPrecision::float32)
    return top_n_impl<float>(comm, model, catalogue, interactions, config, stats);
  return top_n_impl<double>(comm, model, catalogue, interactions, config, stats);
}

Evaluation evaluate_holdout(par::Comm& comm, const AlsModel& model, const Catalogue& catalogue,
                            std::span<const Interaction> interactions,
                            const EvaluationConfig& config) {
  if (model.precision == FactorPrecision::float32)
    return evaluate_impl<float>(comm, model, catalogue, interactions, config);
  return evaluate_impl<double>(comm, model, catalogue, interactions, config);
}

AlsModel fold_in_users(const Catalogue& cat, std::span<const std::uint64_t> users,
                       std::span<const Interaction> interactions, double alpha,
                       double regularization) {
  const int k = cat.factors;
  const auto kk = static_cast<std::size_t>(k);
  AlsModel m;
  m.factors = k;
  m.precision = FactorPrecision::float64;
  m.users.assign(users.begin(), users.end());
  m.user_train_count.assign(users.size(), 0);
  m.user_factors.assign(users.size() * kk, 0.0);
  if (k < 1 || cat.item_factors.size() != cat.size() * kk)
    throw Error("fold-in: the catalogue's item factors do not match its products");
  // Y^T Y + lambda I, rows in product order (upper triangle, mirrored).
  std::vector<double> gram(kk * kk, 0.0);
  for (std::size_t i = 0; i < cat.size(); ++i) {
    const double* y = cat.item_factors.data() + i * kk;
    for (std::size_t a = 0; a < kk; ++a)
      for (std::size_t b = a; b < kk; ++b) gram[a * kk + b] += y[a] * y[b];
  }
  for (std::size_t a = 0; a < kk; ++a) {
    gram[a * kk + a] += regularization;
    for (std::size_t b = a + 1; b < kk; ++b) gram[b * kk + a] = gram[a * kk + b];
  }
  const auto off = pair_offsets(users, interactions);
  std::vector<std::uint32_t> idx;
  std::vector<double> conf, scratch(als_scratch_size(k));
  for (std::size_t u = 0; u < users.size(); ++u) {
    idx.clear();
    conf.clear();
    for (std::size_t t = off[u]; t < off[u + 1]; ++t) {
      const Interaction& it = interactions[t];
      if (!(it.strength > 0.0)) continue;
      const std::size_t i = cat.index_of(it.product);
      if (i >= cat.size()) continue;
      idx.push_back(static_cast<std::uint32_t>(i));
      conf.push_back(1.0 + alpha * it.strength);
    }
    if (idx.empty()) continue;
    m.user_train_count[u] = static_cast<std::uint32_t>(idx.size());
    kernel::cholesky_solve(k, gram.data(), cat.item_factors.data(), idx.data(), conf.data(),
                           idx.size(), m.user_factors.data() + u * kk, scratch.data());
  }
  return m;
}

namespace {
std::string metrics_line(const char* name, const RankingMetrics& m) {
  std::ostringstream os;
  os << name << ": precision@" << m.k << " " << fixed(m.precision_at_10, 4) << ", recall "
     << fixed(m.recall_at_10, 4) << ", MAP " << fixed(m.map_at_10, 4) << ", NDCG "
     << fixed(m.ndcg_at_10, 4) << ", AUC " << fixed(m.auc, 4) << ", coverage "
     << fixed(m.coverage, 4) << " (" << m.users << " users)";
  return os.str();
}
}  // namespace

RecommenderResult run_recommender(par::Comm& comm, std::span<const Event> events,
                                  const RecommenderConfig& config, const Logger* log) {
  RecommenderResult result;
  const std::vector<std::uint64_t> users = distinct_users(events);
  std::vector<Interaction> pairs = build_interactions(events, config.weights);
  AlsModel eval_model;
  bool have_eval_model = false;
  if (config.evaluate) {
    split_holdout(comm, pairs, config.holdout);
    for (const Interaction& it : pairs)
      if (is_test(it)) {
        result.holdout_users.push_back(it.user);
        result.holdout_products.push_back(it.product);
      }
    eval_model = train_als(comm, users, pairs, config.als, log);
    const Catalogue cat = gather_catalogue(comm, eval_model, pairs, config.als.vshards,
                                           config.als.exchange_budget_bytes);
    EvaluationConfig ec = config.evaluation;
    ec.seed = config.holdout.seed;
    result.evaluation = evaluate_holdout(comm, eval_model, cat, pairs, ec);
    if (log) {
      log->info("als: holdout ", result.evaluation.test_pairs, " test pairs, evaluated in ",
                fixed(result.evaluation.seconds, 2), " s");
      log->info(metrics_line("als: ALS       ", result.evaluation.als));
      log->info(metrics_line("als: popularity", result.evaluation.popularity));
    }
    have_eval_model = true;
  }
  if (config.refit_on_all || !have_eval_model) {
    for (Interaction& it : pairs) it.is_test = 0;
    result.model = train_als(comm, users, pairs, config.als, log);
  } else {
    result.model = std::move(eval_model);
  }
  result.catalogue = gather_catalogue(comm, result.model, pairs, config.als.vshards,
                                      config.als.exchange_budget_bytes);
  result.recommendations =
      recommend_top_n(comm, result.model, result.catalogue, pairs, config.recommend, &result.topn);
  if (log)
    log->info("als: top-", config.recommend.top_n, " for all users in ",
              fixed(result.topn.seconds, 2), " s: ", result.topn.users[0], " als, ",
              result.topn.users[1], " category_popular, ", result.topn.users[2],
              " popular users; coverage ", fixed(result.topn.coverage, 4));
  return result;
}

}  // namespace ecom::ml
