#pragma once
// The product catalogue of a synthetic data set: a pure function of (preset, seed, sizes),
// identical on every rank. Products are grouped by category; each category belongs to two
// taste groups; choice tables give the probability that a user of a taste group with a price
// taste picks a category, then a product of it.
#include <cstdint>
#include <string>
#include <vector>

#include "ecom/par/random.hpp"
#include "ecom/synth/preset.hpp"

namespace ecom::synth {

// Catalogue randomness: par::Stream(seed, Purpose::synth_user, kCatalogueTag | kind << 56 | i).
inline constexpr std::uint64_t kCatalogueTag = 1ULL << 63;

// base + (a*i + b) mod range with gcd(a, range) = 1: distinct ids for distinct i < range.
std::uint64_t permuted_id(const IdShape& shape, std::uint64_t seed, std::uint64_t i);

struct Product {
  std::uint64_t id = 0;
  std::uint32_t category = 0;  // index into categories
  std::uint32_t brand = 0;     // index into brands (the underlying brand, also when hidden)
  std::uint32_t price_cents = 0;
  bool brand_empty = false;  // brand written as empty
  double popularity = 0;     // within its category
};

struct Category {
  std::uint64_t id = 0;
  std::string code;   // empty when category_code is written empty
  double weight = 0;  // global popularity
  double median_price = 0;
  std::uint32_t first = 0, count = 0;  // products [first, first+count)
  int group_a = 0, group_b = 0;        // the two taste groups that prefer it
  std::size_t table = 0;               // offset of its 3 x kPriceTastes product tables
};

class Catalogue {
 public:
  Catalogue(const Preset& preset, std::uint64_t seed, std::uint32_t n_products, int taste_groups);

  const std::vector<Product>& products() const { return products_; }
  const std::vector<Category>& categories() const { return categories_; }
  const std::vector<std::string>& brands() const { return brands_; }
  int taste_groups() const { return groups_; }

  // Draws a category for a user of `group` (taste draw) or of the whole shop (group < 0).
  std::uint32_t draw_category(int group, PriceTaste price, double u) const;
  // Draws a product of category `c` for a user of `group` with price taste `price`.
  std::uint32_t draw_product(std::uint32_t c, int group, PriceTaste price, double u) const;
  // Expected share of rows of each product under neutral taste (used to place empty
  // brands/codes and zero prices so that their row shares meet the targets).
  const std::vector<double>& expected_share() const { return expected_share_; }

  // Whether taste group g prefers brand b (weight x kBrandBoost).
  bool prefers_brand(int group, std::uint32_t brand) const;
  static constexpr double kBrandBoost = 4.0;
  static constexpr double kShopTaste = 0.8;  // share of taste draws assumed for expected_share

 private:
  void build_tables();
  int variant_of(const Category& c, int group) const {
    return group == c.group_a ? 0 : (group == c.group_b ? 1 : 2);
  }
  std::uint64_t seed_;
  double gamma_, gamma_category_;
  int groups_;
  std::vector<Product> products_;
  std::vector<Category> categories_;
  std::vector<std::string> brands_;
  std::vector<double> product_cum_;                           // per category: 3 variants x 3 tastes
  std::vector<std::vector<std::uint32_t>> group_categories_;  // per group (+1: whole shop)
  std::vector<std::vector<double>> group_cum_;                // per (group+1) x taste
  std::vector<double> expected_share_;
};

}  // namespace ecom::synth
