#include "ecom/synth/catalogue.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <string_view>
#include <unordered_set>

#include "ecom/core/error.hpp"
#include "ecom/core/uint128.hpp"

namespace ecom::synth {

namespace {

enum Kind : std::uint64_t {
  kCategory = 1,
  kProduct = 2,
  kBrand = 3,
  kOrder = 4,
  kBrandTaste = 5,
  kPool = 6
};

par::Stream entity_stream(std::uint64_t seed, Kind kind, std::uint64_t i) {
  return par::Stream(seed, par::Purpose::synth_user, kCatalogueTag | (kind << 56) | i);
}

constexpr std::array<std::string_view, 84> kMultiCodes = {"electronics.smartphone",
                                                          "electronics.audio.headphone",
                                                          "electronics.video.tv",
                                                          "electronics.clocks",
                                                          "electronics.tablet",
                                                          "electronics.audio.subwoofer",
                                                          "electronics.camera.photo",
                                                          "electronics.camera.video",
                                                          "electronics.telephone",
                                                          "electronics.audio.acoustic",
                                                          "electronics.video.projector",
                                                          "electronics.audio.music_tools.piano",
                                                          "appliances.kitchen.washer",
                                                          "appliances.kitchen.refrigerators",
                                                          "appliances.kitchen.microwave",
                                                          "appliances.kitchen.kettle",
                                                          "appliances.kitchen.blender",
                                                          "appliances.kitchen.hood",
                                                          "appliances.kitchen.oven",
                                                          "appliances.kitchen.dishwasher",
                                                          "appliances.kitchen.coffee_machine",
                                                          "appliances.kitchen.mixer",
                                                          "appliances.kitchen.toster",
                                                          "appliances.environment.vacuum",
                                                          "appliances.environment.water_heater",
                                                          "appliances.environment.air_heater",
                                                          "appliances.environment.air_conditioner",
                                                          "appliances.environment.fan",
                                                          "appliances.iron",
                                                          "appliances.sewing_machine",
                                                          "appliances.personal.hair_cutter",
                                                          "appliances.personal.massager",
                                                          "appliances.personal.scales",
                                                          "computers.notebook",
                                                          "computers.desktop",
                                                          "computers.peripherals.printer",
                                                          "computers.peripherals.mouse",
                                                          "computers.peripherals.keyboard",
                                                          "computers.peripherals.monitor",
                                                          "computers.components.cpu",
                                                          "computers.components.videocards",
                                                          "computers.components.memory",
                                                          "computers.components.hdd",
                                                          "computers.network.router",
                                                          "furniture.living_room.sofa",
                                                          "furniture.living_room.cabinet",
                                                          "furniture.living_room.chair",
                                                          "furniture.bedroom.bed",
                                                          "furniture.bedroom.pillow",
                                                          "furniture.kitchen.table",
                                                          "furniture.bathroom.bath",
                                                          "furniture.universal.light",
                                                          "apparel.shoes",
                                                          "apparel.shoes.keds",
                                                          "apparel.shoes.sandals",
                                                          "apparel.costume",
                                                          "apparel.trousers",
                                                          "apparel.jeans",
                                                          "apparel.tshirt",
                                                          "apparel.underwear",
                                                          "construction.tools.drill",
                                                          "construction.tools.saw",
                                                          "construction.tools.welding",
                                                          "construction.components.faucet",
                                                          "construction.tools.light",
                                                          "kids.toys",
                                                          "kids.carriage",
                                                          "kids.swing",
                                                          "kids.skates",
                                                          "auto.accessories.player",
                                                          "auto.accessories.videoregister",
                                                          "auto.accessories.alarm",
                                                          "auto.accessories.compressor",
                                                          "sport.bicycle",
                                                          "sport.tennis",
                                                          "sport.snowboard",
                                                          "sport.trainer",
                                                          "accessories.bag",
                                                          "accessories.wallet",
                                                          "accessories.umbrella",
                                                          "country_yard.lawn_mower",
                                                          "country_yard.cultivator",
                                                          "medicine.tools.tonometer",
                                                          "stationery.cartrige"};

constexpr std::array<std::string_view, 12> kCosmeticsCodes = {
    "appliances.environment.vacuum",
    "stationery.cartrige",
    "accessories.bag",
    "apparel.glove",
    "furniture.bathroom.bath",
    "appliances.personal.hair_cutter",
    "accessories.cosmetic_bag",
    "furniture.living_room.cabinet",
    "sport.diving",
    "appliances.environment.air_conditioner",
    "furniture.living_room.chair",
    "appliances.personal.massager"};

std::string brand_name(par::Stream& s) {
  static constexpr std::string_view kOnset[] = {"b",  "c",  "d",  "f",  "g",  "k",  "l",  "m",
                                                "n",  "p",  "r",  "s",  "t",  "v",  "z",  "br",
                                                "st", "tr", "gr", "pl", "kr", "sh", "ch", "fl"};
  static constexpr std::string_view kVowel[] = {"a", "e", "i", "o", "u", "a", "o", "ia", "ea"};
  static constexpr std::string_view kCoda[] = {"", "", "", "n", "x", "s", "l", "r", "m", "t"};
  std::string name;
  const int syllables = 2 + static_cast<int>(s.index(2));
  for (int i = 0; i < syllables; ++i) {
    name += kOnset[s.index(std::size(kOnset))];
    name += kVowel[s.index(std::size(kVowel))];
  }
  name += kCoda[s.index(std::size(kCoda))];
  return name;
}

// Greedy: walks `order`, marks an item when its share still fits under the target; ends
// within the smallest skipped share of the target.
template <class Mark>
void mark_share(const std::vector<std::uint32_t>& order, const std::vector<double>& share,
                double target, Mark&& mark) {
  double acc = 0;
  for (std::uint32_t i : order) {
    if (acc >= target) break;
    if (acc + share[i] <= target * 1.0005 || share[i] < 1e-12) {
      mark(i);
      acc += share[i];
    }
  }
}

std::vector<std::uint32_t> random_order(std::uint64_t seed, std::uint64_t salt, std::size_t n) {
  std::vector<std::pair<std::uint64_t, std::uint32_t>> keyed(n);
  for (std::size_t i = 0; i < n; ++i)
    keyed[i] = {par::random_bits(seed, par::Purpose::synth_user, kCatalogueTag | (kOrder << 56) | i,
                                 static_cast<std::uint32_t>(salt)),
                static_cast<std::uint32_t>(i)};
  std::sort(keyed.begin(), keyed.end());
  std::vector<std::uint32_t> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = keyed[i].second;
  return out;
}

double price_factor(PriceTaste t, double ratio, double exponent) {
  switch (t) {
    case PriceTaste::cheap:
      return std::pow(ratio, -exponent);
    case PriceTaste::expensive:
      return std::pow(ratio, exponent);
    default:
      return 1.0;
  }
}

std::size_t pick(const double* cum, std::size_t n, double u) {
  const double x = u * cum[n - 1];
  const std::size_t i = static_cast<std::size_t>(std::upper_bound(cum, cum + n, x) - cum);
  return std::min(i, n - 1);
}

}  // namespace

std::uint64_t permuted_id(const IdShape& shape, std::uint64_t seed, std::uint64_t i) {
  std::uint64_t a = 0x9E3779B97F4A7C15ULL % shape.range;
  while (std::gcd(a, shape.range) != 1) ++a;
  const std::uint64_t b =
      par::random_bits(seed, par::Purpose::synth_user, kCatalogueTag, 7) % shape.range;
  const u128 x = (static_cast<u128>(a) * (i % shape.range) + b) % shape.range;
  return shape.base + static_cast<std::uint64_t>(x);
}

Catalogue::Catalogue(const Preset& preset, std::uint64_t seed, std::uint32_t n_products,
                     int taste_groups)
    : seed_(seed), gamma_(preset.price_gamma), gamma_category_(preset.price_gamma_category) {
  if (n_products < 16) n_products = 16;
  const auto P = n_products;
  long c_wanted = std::lround(P / preset.products_per_category);
  c_wanted = std::clamp<long>(c_wanted, preset.min_categories, preset.max_categories);
  c_wanted = std::min<long>(c_wanted, P / 4);
  const auto C = static_cast<std::uint32_t>(std::max<long>(c_wanted, 1));
  groups_ = std::clamp(taste_groups, 1, static_cast<int>(C));
  const auto B =
      static_cast<std::uint32_t>(std::max<long>(8, std::lround(P / preset.products_per_brand)));

  // Brands: unique pronounceable names; global popularity Zipf by index.
  {
    std::unordered_set<std::string> seen;
    brands_.reserve(B);
    for (std::uint32_t b = 0; b < B; ++b) {
      auto s = entity_stream(seed, kBrand, b);
      std::string name = brand_name(s);
      while (!seen.insert(name).second) name += brand_name(s).substr(0, 2);
      brands_.push_back(std::move(name));
    }
  }
  std::vector<double> brand_cum(B);
  for (std::uint32_t b = 0; b < B; ++b)
    brand_cum[b] = (b ? brand_cum[b - 1] : 0.0) + 1.0 / std::pow(b + 1.0, 0.9);

  // Categories: popularity, price level, code, groups, size.
  categories_.resize(C);
  std::vector<double> size_cum(C);
  const auto& codes_multi = kMultiCodes;
  const auto& codes_cos = kCosmeticsCodes;
  const auto group_order = random_order(seed, 1, C);
  std::vector<std::uint32_t> group_rank(C);
  for (std::uint32_t r = 0; r < C; ++r) group_rank[group_order[r]] = r;
  for (std::uint32_t c = 0; c < C; ++c) {
    auto s = entity_stream(seed, kCategory, c);
    Category& cat = categories_[c];
    cat.id = permuted_id(preset.category_id, seed ^ 0x5bd1e995ULL, c);
    cat.weight = std::exp(0.8 * s.normal());
    cat.median_price =
        std::clamp(std::exp(preset.category_price_mu + preset.category_price_sigma * s.normal()),
                   preset.price_min * 2, preset.price_max / 4);
    const std::uint64_t code_pick = s.bits();
    cat.code = preset.cosmetics_codes ? std::string(codes_cos[code_pick % codes_cos.size()])
                                      : std::string(codes_multi[code_pick % codes_multi.size()]);
    size_cum[c] = (c ? size_cum[c - 1] : 0.0) + std::exp(0.5 * s.normal());
    cat.group_a = static_cast<int>(group_rank[c] % static_cast<std::uint32_t>(groups_));
    cat.group_b = groups_ > 1
                      ? (cat.group_a + 1 +
                         static_cast<int>(s.index(static_cast<std::uint64_t>(groups_ - 1)))) %
                            groups_
                      : cat.group_a;
  }

  // Product counts per category: one each, the rest by size weight.
  std::vector<std::uint32_t> counts(C, 1);
  for (std::uint32_t j = C; j < P; ++j) {
    const double u =
        par::uniform(seed, par::Purpose::synth_user, kCatalogueTag | (kProduct << 56) | j, 1000);
    ++counts[pick(size_cum.data(), C, u)];
  }
  products_.resize(P);
  std::uint32_t first = 0;
  for (std::uint32_t c = 0; c < C; ++c) {
    Category& cat = categories_[c];
    cat.first = first;
    cat.count = counts[c];
    cat.table = static_cast<std::size_t>(first) * 9;
    auto cs = entity_stream(seed, kPool, c);
    // The category's brand pool.
    const std::uint32_t pool_size = std::clamp<std::uint32_t>(cat.count / 4, 1, 30);
    std::vector<std::uint32_t> pool(pool_size);
    for (auto& b : pool) b = static_cast<std::uint32_t>(pick(brand_cum.data(), B, cs.uniform()));
    // Popularity: Zipf over a random rank within the category.
    std::vector<std::pair<std::uint64_t, std::uint32_t>> rank(cat.count);
    for (std::uint32_t k = 0; k < cat.count; ++k) {
      const std::uint32_t j = first + k;
      auto s = entity_stream(seed, kProduct, j);
      Product& p = products_[j];
      p.id = permuted_id(preset.product_id, seed ^ 0x27d4eb2dULL, j);
      p.category = c;
      const double price =
          std::clamp(cat.median_price * std::exp(preset.product_price_sigma * s.normal()),
                     preset.price_min, preset.price_max);
      p.price_cents = static_cast<std::uint32_t>(std::llround(price * 100.0));
      const double ub = s.uniform();
      p.brand = pool[static_cast<std::size_t>(ub * ub * pool_size)];
      rank[k] = {s.bits(), k};
    }
    std::sort(rank.begin(), rank.end());
    for (std::uint32_t r = 0; r < cat.count; ++r)
      products_[first + rank[r].second].popularity = 1.0 / std::pow(r + 1.0, 0.8);
    first += cat.count;
  }

  build_tables();

  // Empty brands, empty category codes and zero prices, placed by expected row share.
  const auto& tg = preset.targets;
  {
    const auto order = random_order(seed, 2, P);
    mark_share(order, expected_share_, tg.empty_brand,
               [&](std::uint32_t j) { products_[j].brand_empty = true; });
  }
  {
    std::vector<double> cat_share(C, 0.0);
    for (std::uint32_t j = 0; j < P; ++j) cat_share[products_[j].category] += expected_share_[j];
    const auto order = random_order(seed, 3, C);
    mark_share(order, cat_share, tg.empty_category_code,
               [&](std::uint32_t c) { categories_[c].code.clear(); });
  }
  if (tg.zero_price > 0) {
    const auto order = random_order(seed, 4, P);
    mark_share(order, expected_share_, tg.zero_price,
               [&](std::uint32_t j) { products_[j].price_cents = 0; });
  }
}

bool Catalogue::prefers_brand(int group, std::uint32_t brand) const {
  return par::uniform(seed_, par::Purpose::synth_user, kCatalogueTag | (kBrandTaste << 56) | brand,
                      static_cast<std::uint32_t>(group)) < 0.3;
}

void Catalogue::build_tables() {
  const auto C = static_cast<std::uint32_t>(categories_.size());
  const auto G = groups_;
  product_cum_.assign(products_.size() * 9, 0.0);
  for (const Category& cat : categories_) {
    const int groups_of[3] = {cat.group_a, cat.group_b, -1};
    for (int v = 0; v < 3; ++v) {
      for (int t = 0; t < kPriceTastes; ++t) {
        double* cum =
            product_cum_.data() + cat.table + static_cast<std::size_t>(v * 3 + t) * cat.count;
        double acc = 0;
        for (std::uint32_t k = 0; k < cat.count; ++k) {
          const Product& p = products_[cat.first + k];
          double w = p.popularity;
          if (groups_of[v] >= 0 && prefers_brand(groups_of[v], p.brand)) w *= kBrandBoost;
          const double price = std::max(p.price_cents / 100.0, 0.5);
          w *= price_factor(static_cast<PriceTaste>(t), price / cat.median_price, gamma_);
          acc += w;
          cum[k] = acc;
        }
      }
    }
  }
  group_categories_.assign(static_cast<std::size_t>(G) + 1, {});
  for (std::uint32_t c = 0; c < C; ++c) {
    group_categories_[static_cast<std::size_t>(categories_[c].group_a)].push_back(c);
    if (categories_[c].group_b != categories_[c].group_a)
      group_categories_[static_cast<std::size_t>(categories_[c].group_b)].push_back(c);
    group_categories_[static_cast<std::size_t>(G)].push_back(c);
  }
  // Reference price level: the median of category medians.
  std::vector<double> medians;
  for (const auto& c : categories_) medians.push_back(c.median_price);
  std::nth_element(medians.begin(), medians.begin() + static_cast<long>(medians.size() / 2),
                   medians.end());
  const double ref = medians[medians.size() / 2];
  group_cum_.assign(static_cast<std::size_t>(G + 1) * kPriceTastes, {});
  for (int g = 0; g <= G; ++g)
    for (int t = 0; t < kPriceTastes; ++t) {
      auto& cum = group_cum_[static_cast<std::size_t>(g * kPriceTastes + t)];
      double acc = 0;
      for (std::uint32_t c : group_categories_[static_cast<std::size_t>(g)]) {
        acc += categories_[c].weight * price_factor(static_cast<PriceTaste>(t),
                                                    categories_[c].median_price / ref,
                                                    gamma_category_);
        cum.push_back(acc);
      }
    }

  // Expected share of each product under neutral taste: kShopTaste taste draws (group uniform)
  // and the rest whole-shop draws.
  expected_share_.assign(products_.size(), 0.0);
  auto add_draw = [&](int g, double mass) {
    const auto& list = group_categories_[static_cast<std::size_t>(g < 0 ? G : g)];
    const auto& cum = group_cum_[static_cast<std::size_t>((g < 0 ? G : g) * kPriceTastes)];
    const double total = cum.back();
    for (std::size_t i = 0; i < list.size(); ++i) {
      const Category& cat = categories_[list[i]];
      const double pc = (cum[i] - (i ? cum[i - 1] : 0.0)) / total;
      const int v = g < 0 ? 2 : variant_of(cat, g);
      const double* pcum =
          product_cum_.data() + cat.table + static_cast<std::size_t>(v * 3) * cat.count;
      const double ptotal = pcum[cat.count - 1];
      for (std::uint32_t k = 0; k < cat.count; ++k)
        expected_share_[cat.first + k] += mass * pc * (pcum[k] - (k ? pcum[k - 1] : 0.0)) / ptotal;
    }
  };
  for (int g = 0; g < G; ++g) add_draw(g, kShopTaste / G);
  add_draw(-1, 1.0 - kShopTaste);
}

std::uint32_t Catalogue::draw_category(int group, PriceTaste price, double u) const {
  const std::size_t g = static_cast<std::size_t>(group < 0 ? groups_ : group);
  const auto& list = group_categories_[g];
  const auto& cum = group_cum_[g * kPriceTastes + static_cast<std::size_t>(price)];
  return list[pick(cum.data(), cum.size(), u)];
}

std::uint32_t Catalogue::draw_product(std::uint32_t c, int group, PriceTaste price,
                                      double u) const {
  const Category& cat = categories_[c];
  const int v = group < 0 ? 2 : variant_of(cat, group);
  const double* cum = product_cum_.data() + cat.table +
                      static_cast<std::size_t>(v * 3 + static_cast<int>(price)) * cat.count;
  return cat.first + static_cast<std::uint32_t>(pick(cum, cat.count, u));
}

}  // namespace ecom::synth
