#include "ecom/ml/segments.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

#include "ecom/core/error.hpp"
#include "ecom/io/csv_field.hpp"
#include "ecom/ml/exact_bins.hpp"

namespace ecom::ml {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

[[noreturn]] void bad_rule(std::string_view text, const std::string& why) {
  throw UserError("segment naming rule '" + std::string(text) + "': " + why);
}

// Splits on '&' and on the word "and" (surrounded by spaces).
std::vector<std::string_view> split_conditions(std::string_view body) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= body.size(); ++i) {
    std::size_t skip = 0;
    if (i == body.size()) {
      skip = 0;
    } else if (body[i] == '&') {
      skip = (i + 1 < body.size() && body[i + 1] == '&') ? 2 : 1;
    } else if (i + 5 <= body.size() && body.substr(i, 5) == " and ") {
      skip = 5;
    } else {
      continue;
    }
    out.push_back(trim(body.substr(start, i - start)));
    if (i == body.size()) break;
    start = i + skip;
    i += skip - 1;
  }
  return out;
}

std::string num(double v) {
  if (std::isnan(v)) return "";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

}  // namespace

SegmentProfiles profile_segments(par::Comm& comm, const RowMatrix& features,
                                 std::span<const std::string> names,
                                 std::span<const std::int32_t> labels, int k,
                                 const std::string& revenue_feature) {
  const auto n = static_cast<std::size_t>(features.rows());
  const auto F = names.size();
  std::string error;
  if (n > 0 && static_cast<std::size_t>(features.cols()) != F)
    error = "segment profiles: feature matrix width differs from the number of names";
  else if (labels.size() != n)
    error = "segment profiles: labels and feature rows differ in number";
  else
    for (auto l : labels)
      if (l < 0 || l >= k) {
        error = "segment profiles: label out of range";
        break;
      }
  par::agree(comm, error, ExitCode::internal);
  const auto rev_it = std::find(names.begin(), names.end(), revenue_feature);
  if (rev_it == names.end())
    throw UserError("segment profiles: no feature named '" + revenue_feature + "'");
  const auto rev = static_cast<std::size_t>(rev_it - names.begin());
  const auto ku = static_cast<std::size_t>(k);

  BinnedSums sums(ku, F);
  std::vector<std::uint64_t> counts(ku, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<std::size_t>(labels[i]);
    sums.add_row(c, &features(static_cast<Eigen::Index>(i), 0));
    ++counts[c];
  }
  const par::ExactVector total = comm.exact_combine(sums.to_exact());
  comm.allreduce_sum<std::uint64_t>(counts);

  SegmentProfiles p;
  p.features.assign(names.begin(), names.end());
  for (auto c : counts) p.users += c;
  // Population sums: exact sums of the segments' exact sums.
  std::vector<par::ExactAccumulator> overall(F);
  for (std::size_t c = 0; c < ku; ++c)
    for (std::size_t j = 0; j < F; ++j) overall[j].add(total[c * F + j]);
  p.overall_means.resize(F);
  for (std::size_t j = 0; j < F; ++j)
    p.overall_means[j] = p.users > 0 ? overall[j].value() / static_cast<double>(p.users) : kNaN;
  p.revenue = F > 0 ? overall[rev].value() : 0.0;
  for (std::size_t c = 0; c < ku; ++c) {
    SegmentProfile s;
    s.segment = static_cast<int>(c);
    s.users = counts[c];
    s.share = p.users > 0 ? static_cast<double>(counts[c]) / static_cast<double>(p.users) : 0.0;
    s.revenue = total[c * F + rev].value();
    s.revenue_share = p.revenue != 0 ? s.revenue / p.revenue : 0.0;
    s.means.resize(F);
    for (std::size_t j = 0; j < F; ++j)
      s.means[j] = counts[c] > 0 ? total[c * F + j].value() / static_cast<double>(counts[c]) : kNaN;
    s.name = std::string("segment ").append(std::to_string(c));
    p.segments.push_back(std::move(s));
  }
  return p;
}

NamingRule parse_naming_rule(std::string_view text) {
  NamingRule rule;
  rule.text = std::string(text);
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) bad_rule(text, "expected 'NAME: conditions'");
  rule.name = std::string(trim(text.substr(0, colon)));
  if (rule.name.empty()) bad_rule(text, "empty name");
  const std::string_view body = trim(text.substr(colon + 1));
  if (body.empty()) return rule;
  for (std::string_view cond : split_conditions(body)) {
    if (cond.empty()) bad_rule(text, "empty condition");
    std::size_t op_pos = cond.find_first_of("<>");
    if (op_pos == std::string_view::npos)
      bad_rule(text, "no comparison in '" + std::string(cond) + "'");
    Condition c;
    c.quantity = std::string(trim(cond.substr(0, op_pos)));
    std::size_t after = op_pos + 1;
    const bool eq = after < cond.size() && cond[after] == '=';
    if (eq) ++after;
    c.op = cond[op_pos] == '>' ? (eq ? CompareOp::ge : CompareOp::gt)
                               : (eq ? CompareOp::le : CompareOp::lt);
    std::string_view value = trim(cond.substr(after));
    if (!value.empty() && (value.back() == 'x' || value.back() == 'X')) {
      c.relative = true;
      value = trim(value.substr(0, value.size() - 1));
    }
    if (c.quantity.empty()) bad_rule(text, "missing quantity in '" + std::string(cond) + "'");
    const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), c.value);
    if (value.empty() || ec != std::errc{} || ptr != value.data() + value.size() ||
        !std::isfinite(c.value))
      bad_rule(text, "bad number '" + std::string(value) + "'");
    rule.conditions.push_back(std::move(c));
  }
  return rule;
}

std::vector<NamingRule> parse_naming_rules(std::span<const std::string> texts) {
  std::vector<NamingRule> out;
  for (const auto& t : texts) out.push_back(parse_naming_rule(t));
  return out;
}

std::vector<std::string> default_naming_rules() {
  // docs/SEGMENTS.md explains each threshold ("x": times the population mean).
  return {
      "VIP: monetary >= 5x & n_purchases >= 6x",
      "top spenders: monetary >= 4x & avg_basket >= 4x",
      "loyal: n_purchases >= 2x & active_days >= 2x",
      "bargain hunters: n_purchases >= 1x & avg_view_price <= 0.5x",
      "active buyers: n_purchases >= 1x",
      "cart abandoners: abandonment_rate >= 0.5 & n_purchases <= 0.25x",
      "window shoppers: n_views >= 1x & n_purchases <= 0.25x",
      "dormant: recency_days >= 1.5x",
      "occasional:",
  };
}

std::vector<std::string> name_segments(const SegmentProfiles& profiles,
                                       std::span<const NamingRule> rules) {
  const double k = static_cast<double>(profiles.segments.size());
  // Value and reference of a quantity for one segment.
  auto lookup = [&](const NamingRule& rule, const Condition& c, const SegmentProfile& s,
                    double& value, double& reference) {
    if (c.quantity == "share" || c.quantity == "revenue_share") {
      value = c.quantity == "share" ? s.share : s.revenue_share;
      reference = 1.0 / k;
      return;
    }
    if (c.quantity == "users") {
      value = static_cast<double>(s.users);
      reference = static_cast<double>(profiles.users) / k;
      return;
    }
    if (c.quantity == "revenue") {
      value = s.revenue;
      reference = profiles.revenue / k;
      return;
    }
    auto find = [&](const std::string& q) {
      return std::find(profiles.features.begin(), profiles.features.end(), q);
    };
    auto it = find(c.quantity);
    if (it == profiles.features.end() && c.quantity.size() > 5 &&
        c.quantity.compare(c.quantity.size() - 5, 5, "_mean") == 0)
      it = find(c.quantity.substr(0, c.quantity.size() - 5));
    if (it == profiles.features.end())
      throw UserError("segment naming rule '" + rule.text + "': unknown quantity '" + c.quantity +
                      "'");
    const auto j = static_cast<std::size_t>(it - profiles.features.begin());
    value = s.means[j];
    reference = profiles.overall_means[j];
  };
  auto holds = [&](const NamingRule& rule, const SegmentProfile& s) {
    bool all = true;
    for (const auto& c : rule.conditions) {
      double value = 0, reference = 0;
      lookup(rule, c, s, value, reference);  // validates every condition, even after a failure
      const double bound = c.relative ? c.value * reference : c.value;
      bool ok = false;
      switch (c.op) {
        case CompareOp::ge:
          ok = value >= bound;
          break;
        case CompareOp::gt:
          ok = value > bound;
          break;
        case CompareOp::le:
          ok = value <= bound;
          break;
        case CompareOp::lt:
          ok = value < bound;
          break;
      }
      all = all && ok;  // NaN (empty segment) compares false
    }
    return all;
  };
  std::vector<std::string> names;
  std::set<std::string> taken;
  for (const auto& s : profiles.segments) {
    std::string name;
    for (const auto& rule : rules)
      if (holds(rule, s)) {
        name = rule.name;
        break;
      }
    if (name.empty()) name = std::string("segment ").append(std::to_string(s.segment));
    std::string unique = name;
    for (int suffix = 2; taken.count(unique); ++suffix) {
      unique = name;
      unique.append(" ").append(std::to_string(suffix));
    }
    taken.insert(unique);
    names.push_back(unique);
  }
  return names;
}

void apply_names(SegmentProfiles& profiles, std::span<const NamingRule> rules) {
  const auto names = name_segments(profiles, rules);
  for (std::size_t c = 0; c < names.size(); ++c) profiles.segments[c].name = names[c];
}

std::string segment_profiles_csv(const SegmentProfiles& profiles) {
  std::string out = "segment_id,name,users,share,revenue,revenue_share";
  for (const auto& f : profiles.features) {
    out.append(",").append(f).append("_mean");
  }
  out += '\n';
  for (const auto& s : profiles.segments) {
    out.append(std::to_string(s.segment)).append(",").append(io::csv_field(s.name));
    out.append(",").append(std::to_string(s.users)).append(",").append(num(s.share));
    out.append(",").append(num(s.revenue)).append(",").append(num(s.revenue_share));
    for (double m : s.means) out.append(",").append(num(m));
    out += '\n';
  }
  return out;
}

double pooled_variance(double inertia, std::uint64_t n_total, Eigen::Index d) {
  if (n_total == 0 || d <= 0) return 0.0;
  return inertia / (static_cast<double>(n_total) * static_cast<double>(d));
}

std::vector<double> segment_confidence(const RowMatrix& scores, const RowMatrix& centroids,
                                       std::span<const std::int32_t> labels, double sigma2) {
  const auto n = static_cast<std::size_t>(scores.rows());
  const Eigen::Index k = centroids.rows(), d = centroids.cols();
  std::vector<double> out(n);
  std::vector<double> d2(static_cast<std::size_t>(k));
  for (std::size_t i = 0; i < n; ++i) {
    const double* x = &scores(static_cast<Eigen::Index>(i), 0);
    double mn = std::numeric_limits<double>::infinity();
    for (Eigen::Index c = 0; c < k; ++c) {
      d2[static_cast<std::size_t>(c)] = squared_distance(x, &centroids(c, 0), d);
      mn = std::min(mn, d2[static_cast<std::size_t>(c)]);
    }
    const auto own = static_cast<std::size_t>(labels[i]);
    if (!(sigma2 > 0)) {
      int ties = 0;
      for (double v : d2) ties += (v == mn);
      out[i] = d2[own] == mn ? 1.0 / ties : 0.0;
      continue;
    }
    const double t = 2.0 * sigma2;
    double z = 0;
    for (double v : d2)
      z += std::exp(-(v - mn) / t);  // shifted by the minimum: no underflow of all
    out[i] = std::exp(-(d2[own] - mn) / t) / z;
  }
  return out;
}

}  // namespace ecom::ml
