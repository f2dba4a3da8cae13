// run.json and score.json (include/ecom/pipeline/summary.hpp).
#include "ecom/pipeline/summary.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "ecom/core/error.hpp"
#include "ecom/io/csv.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/file.hpp"

namespace ecom::pipeline {

namespace {

using Json = nlohmann::ordered_json;  // keys in the order written

std::string dump(const Json& j) {
  // Invalid UTF-8 (e.g. in a path) is replaced rather than thrown on; NaN becomes null.
  return j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

Json ranking(const ml::RankingMetrics& m) {
  return Json{{"precision_at_10", m.precision_at_10},
              {"recall_at_10", m.recall_at_10},
              {"map_at_10", m.map_at_10},
              {"ndcg_at_10", m.ndcg_at_10},
              {"auc", m.auc},
              {"coverage", m.coverage},
              {"k", m.k},
              {"users", m.users},
              {"auc_users", m.auc_users}};
}

Json stage_seconds(const std::vector<par::StageStat>& stages, bool min_avg) {
  Json out = Json::array();
  for (const auto& st : stages) {
    Json e{{"stage", st.path}};
    if (min_avg) {
      e["min"] = st.min;
      e["avg"] = st.avg;
    }
    e["max"] = st.max;
    out.push_back(std::move(e));
  }
  return out;
}

Json counts(const RunSummary& s) {
  std::uint64_t rows_read = 0, rows_kept = 0, dups = 0, zero_price = 0;
  for (const auto& f : s.manifest) {
    rows_read += f.rows_read;
    rows_kept += f.rows_kept;
    dups += f.duplicates;
    zero_price += f.zero_price;
  }
  return Json{{"events", s.events},         {"users", s.users},
              {"rows_read", rows_read},     {"rows_kept", rows_kept},
              {"duplicates", dups},         {"zero_price", zero_price},
              {"files", s.manifest.size()}, {"money_capped_users", s.money_capped_users}};
}

Json segments(const RunSummary& s) {
  Json j{{"k", s.choice.k},           {"reason", s.choice.reason},
         {"gap_k", s.choice.gap_k},   {"silhouette_k", s.choice.silhouette_k},
         {"inertia", s.inertia},      {"iterations", s.iterations},
         {"converged", s.converged},  {"reseeded", s.reseeded},
         {"candidates", s.candidates}};
  if (s.chosen) {
    const auto& row = *s.chosen;
    j["silhouette"] = row.silhouette;
    j["silhouette_sample"] = row.silhouette_sample;
    j["simplified_silhouette"] = row.simplified_silhouette;
    j["gap"] = row.gap;
    j["gap_sd"] = row.gap_sd;
    j["stability_ari"] = row.stability_ari;
    j["stability_pairs"] = row.stability_pairs;
  }
  j["names"] = s.segment_names;
  return j;
}

Json propensity(const RunSummary& s) {
  const auto& p = s.propensity;
  return Json{{"auc", p.auc},
              {"logloss", p.logloss},
              {"train_auc", p.train_auc},
              {"label_days", s.propensity_label_days},
              {"cutoff", io::format_time(p.cutoff)},
              {"train_users", p.train_users},
              {"train_positives", p.train_positives},
              {"holdout_users", p.holdout_users},
              {"holdout_positives", p.holdout_positives},
              {"iterations", p.fit.iterations},
              {"converged", p.fit.converged},
              {"skipped", p.skipped}};
}

}  // namespace

std::string run_json(const RunSummary& s) {
  Json j{{"version", ECOM_VERSION}, {"git_revision", ECOM_GIT_REVISION},
         {"run_time", s.run_time},  {"ranks", s.ranks},
         {"store", s.store},        {"counts", counts(s)}};
  std::map<std::string, std::uint64_t> rejects;
  for (const auto& f : s.manifest)
    for (const auto& [reason, c] : f.rejects) rejects[reason] += c;
  j["rejects"] = Json::object();
  for (const auto& [reason, c] : rejects) j["rejects"][reason] = c;
  j["pca"] = Json{{"components", s.pca_explained.size()}, {"explained", s.pca_explained}};
  j["segments"] = segments(s);
  j["propensity"] = propensity(s);
  j["config"] = s.config;  // for the warehouse's runs table
  if (s.recommendations) {
    const auto& r = *s.recommendations;
    j["als"] = ranking(r.evaluation.als);
    j["popularity"] = ranking(r.evaluation.popularity);
    j["holdout_pairs"] = r.evaluation.test_pairs;
    j["recommendations"] = Json{{"als", r.topn.users[0]},
                                {"category_popular", r.topn.users[1]},
                                {"popular", r.topn.users[2]},
                                {"coverage", r.topn.coverage}};
  }
  const auto bytes = [](double v) { return static_cast<std::uint64_t>(std::llround(v)); };
  j["peak_rss_bytes"] =
      Json{{"min", bytes(s.rss.min)}, {"max", bytes(s.rss.max)}, {"total", bytes(s.rss.total)}};
  j["peak_rss_bytes_per_rank"] = s.rss_per_rank;
  j["products"] = s.recommendations ? s.recommendations->products : 0;
  j["traffic_bytes"] = Json::array();
  for (const auto& t : s.traffic)
    j["traffic_bytes"].push_back(Json{{"stage", t.stage},
                                      {"sent_total", t.sent_total},
                                      {"received_total", t.received_total},
                                      {"sent_max", t.sent_max},
                                      {"received_max", t.received_max}});
  j["stages"] = stage_seconds(s.stages, true);
  return dump(j);
}

std::string score_json(const ScoreReport& r) {
  const Json j{{"new_events", r.counts.new_events},
               {"history_events", r.counts.history_events},
               {"users", r.counts.users},
               {"als_users", r.counts.als_users},
               {"recommendation_rows", r.counts.rows},
               {"ranks", r.ranks},
               {"seconds", r.seconds},
               {"stages", stage_seconds(r.stages, false)}};
  return dump(j);
}

void write_summary(par::Comm& comm, const std::string& path, const std::string& text) {
  std::string error;
  if (comm.rank() == 0) {
    try {  // temporary name, output mode, write errors named (par/file.hpp)
      par::write_file(path, text);
    } catch (const Error& e) {
      error = e.what();
    }
  }
  par::agree(comm, error, ExitCode::comm);
}

}  // namespace ecom::pipeline
