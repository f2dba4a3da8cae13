// The catalogue every rank scores against: all products in product order, with their category,
// popularity (training strength summed in a fixed order) and item factors.
#include <algorithm>
#include <numeric>
#include <vector>

#include "ecom/core/error.hpp"
#include "ecom/core/hash.hpp"
#include "ecom/ml/recommend.hpp"

namespace ecom::ml {
namespace {

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

}  // namespace

Catalogue gather_catalogue(par::Comm& comm, const AlsModel& model,
                           std::span<const Interaction> interactions, std::uint32_t vshards,
                           std::size_t budget_bytes) {
  const par::VShardMap map(vshards, comm.size());
  const auto kk = static_cast<std::size_t>(model.factors);
  std::vector<PopRecord> out(interactions.size());
  for (std::size_t i = 0; i < interactions.size(); ++i)
    out[i] = {interactions[i].product, interactions[i].category_id,
              interactions[i].is_train() ? interactions[i].strength : 0.0};
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

}  // namespace ecom::ml
