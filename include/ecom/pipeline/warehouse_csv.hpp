#pragma once
// Text of the warehouse CSV files shared by `ecom analyze` and `ecom score` (same columns, same
// number formats, so a scored batch loads into the same tables as a run).
#include <span>
#include <string>
#include <string_view>

#include "ecom/ml/recommend.hpp"

namespace ecom::pipeline {

// printf of one finite value with `format`; "" for NaN or infinity (an empty CSV field).
std::string fmt(const char* format, double v);
// RFC 4180: the field in double quotes (inner quotes doubled) if it holds a comma, quote or
// line break; otherwise unchanged.
std::string csv_quote(const std::string& s);

inline constexpr std::string_view kRecommendationsHeader = "user_id,rank,product_id,score,source\n";
// Rows of recommendations.csv, one per recommendation in the given order: pseudonym (16 hex
// digits), rank, product_id, score (%.9g), source.
std::string recommendation_rows(std::span<const ml::Recommendation> recs);

}  // namespace ecom::pipeline
