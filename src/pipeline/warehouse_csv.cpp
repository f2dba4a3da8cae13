#include "ecom/pipeline/warehouse_csv.hpp"

#include <cmath>
#include <cstdio>

#include "ecom/privacy/pseudonym.hpp"

namespace ecom::pipeline {

std::string fmt(const char* format, double v) {
  if (!std::isfinite(v)) return "";
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string csv_quote(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
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
