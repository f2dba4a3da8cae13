#include "ecom/pipeline/warehouse_csv.hpp"

#include <cmath>
#include <cstdio>

#include "ecom/core/error.hpp"
#include "ecom/io/csv_field.hpp"
#include "ecom/privacy/pseudonym.hpp"

namespace ecom::pipeline {

std::string fmt(const char* format, double v) {
  if (!std::isfinite(v)) return "";
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string customer_segment_rows(std::span<const std::uint64_t> users,
                                  std::span<const std::int32_t> segments,
                                  const std::vector<std::string>& segment_names,
                                  std::span<const double> confidence, std::span<const double> proba,
                                  const std::string& updated_at) {
  if (segments.size() != users.size() || confidence.size() != users.size() ||
      proba.size() != users.size())
    throw Error("customer_segment_rows: columns of different lengths");
  std::string text;
  text.reserve(users.size() * 72);
  for (std::size_t i = 0; i < users.size(); ++i) {
    const auto segment = static_cast<std::size_t>(segments[i]);
    if (segment >= segment_names.size()) throw Error("customer_segment_rows: segment out of range");
    text += privacy::to_hex(users[i]);
    text += ',';
    text += std::to_string(segment);
    text += ',';
    io::append_csv_field(text, segment_names[segment]);
    text += ',';
    text += fmt("%.6f", confidence[i]);
    text += ',';
    text += fmt("%.6f", proba[i]);
    text += ',';
    text += updated_at;
    text += '\n';
  }
  return text;
}

std::string recommendation_rows(std::span<const ml::Recommendation> recs) {
  std::string text;
  text.reserve(recs.size() * 48);
  for (const auto& r : recs) {
    text += privacy::to_hex(r.user);
    text += ',';
    text += std::to_string(r.rank);
    text += ',';
    text += std::to_string(r.product);
    text += ',';
    text += fmt("%.9g", r.score);
    text += ',';
    text += ml::name_of(r.source);
    text += '\n';
  }
  return text;
}

}  // namespace ecom::pipeline
