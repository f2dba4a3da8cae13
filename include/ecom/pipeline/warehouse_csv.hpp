#pragma once
// Text of the warehouse CSV files shared by `ecom analyze` and `ecom score` (same columns, same
// number formats, so a scored batch loads into the same tables as a run).
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ecom/ml/recommend.hpp"

namespace ecom::pipeline {

// printf of one finite value with `format`; "" for NaN or infinity (an empty CSV field).
std::string fmt(const char* format, double v);

inline constexpr std::string_view kCustomerSegmentsHeader =
    "user_id,segment_id,segment_name,segment_confidence,proba,updated_at\n";
// Rows of customer_segments.csv, one per user in the given order: pseudonym (16 hex digits),
// segment, its name (quoted when needed), confidence and proba (%.6f; empty when NaN),
// updated_at.
std::string customer_segment_rows(std::span<const std::uint64_t> users,
                                  std::span<const std::int32_t> segments,
                                  const std::vector<std::string>& segment_names,
                                  std::span<const double> confidence, std::span<const double> proba,
                                  const std::string& updated_at);

inline constexpr std::string_view kRecommendationsHeader = "user_id,rank,product_id,score,source\n";
// Rows of recommendations.csv, one per recommendation in the given order: pseudonym (16 hex
// digits), rank, product_id, score (%.9g), source.
std::string recommendation_rows(std::span<const ml::Recommendation> recs);

}  // namespace ecom::pipeline
