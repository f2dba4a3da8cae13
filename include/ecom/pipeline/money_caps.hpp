#pragma once
// Reporting the users whose money features were capped at features::kMoneyCeiling (extreme
// prices in the store): the run goes on, the users are named in the log and counted.
#include <cstdint>
#include <string_view>

#include "ecom/core/log.hpp"
#include "ecom/features/features.hpp"
#include "ecom/par/comm.hpp"

namespace ecom::pipeline {

// Collective. Logs (rank 0, warning) how many users of `table` over all ranks had money
// features capped and names up to 10 of them (pseudonyms, lowest first); returns the count
// (run.json: counts.money_capped_users). `what` prefixes the log line ("features").
std::uint64_t report_capped_users(par::Comm& comm, const Logger& log,
                                  const features::FeatureTable& table, std::string_view what);

}  // namespace ecom::pipeline
