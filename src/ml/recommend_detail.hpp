#pragma once
// Internal to the recommender (recommend*.cpp): the scoring kernels (recommend_kernels.cpp), the
// blocked scorer over item panels, the top list, and the popularity order shared by top-N and
// evaluation.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <utility>
#include <vector>

#include "als_kernels.hpp"
#include "ecom/ml/interactions.hpp"
#include "ecom/ml/recommend.hpp"

namespace ecom::ml::detail {

// out[u][i] = sum_j xs[u][j] * panel_item_i[j], j ascending, for 4-user x 2-panel tiles.
// xs: n_users (multiple of 4) x k; panels: n_panels (even) x k x L (L = 64 bytes of T).
void score_block(int k, const double* xs, std::size_t n, const double* p, std::size_t np,
                 double* out, std::size_t stride);
void score_block(int k, const float* xs, std::size_t n, const float* p, std::size_t np, float* out,
                 std::size_t stride);
// Maximum of s[0..n) (n > 0), for skipping chunks that cannot enter a top list.
double max_of(const double* s, std::size_t n);
float max_of(const float* s, std::size_t n);
// Counts of s[i] > v and s[i] == v over s[0..n), added to gt and eq.
void count_cmp(const double* s, std::size_t n, double v, std::uint64_t& gt, std::uint64_t& eq);
void count_cmp(const float* s, std::size_t n, float v, std::uint64_t& gt, std::uint64_t& eq);

// [begin, end) of each user's pairs in `interactions` (both sorted by user).
std::vector<std::size_t> pair_offsets(std::span<const std::uint64_t> users,
                                      std::span<const Interaction> interactions);

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

}  // namespace ecom::ml::detail
