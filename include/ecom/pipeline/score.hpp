#pragma once
// `ecom score --model RUNDIR --input NEW.csv --out DIR --key-file K`: segments and fold-in
// recommendations for the users of a batch of new events, from a finished run's saved model.
//
// 1. The new events are parsed, validated (rejects to DIR/quarantine.csv), pseudonymised with
//    K and shuffled to the owners of their users exactly as `ecom ingest` does (into a
//    temporary store in DIR, removed afterwards), with the run store's virtual shards.
// 2. History: when RUNDIR/events.h5 exists (and --no-history is not given) the stored events
//    of those users are added; exact duplicates (same user, time, type, product, session) count
//    once, so scoring events the store already holds changes nothing.
// 3. Features over the model's window (RUNDIR/ecom.h5 /model attributes window_start and
//    window_end, widened to include the events scored), then the saved transform, scaler and PCA,
//    nearest saved centroid (ties to the lower segment) and the run's segment confidence; the
//    purchase propensity (proba) from the saved /propensity model (empty if it was not trained).
// 4. Recommendations: interactions with the model's weights, the user's ALS row folded in with
//    the item factors fixed (ml::fold_in_users), top-N with the model's exclusion rule and the
//    fallbacks (category_popular, popular) of `ecom analyze`.
// Writes DIR/customer_segments.csv and DIR/recommendations.csv (the run's columns, pseudonym
// order, MPI-IO) and DIR/score.json (counts and stage seconds). Results do not depend on the
// number of ranks.
#include <cstdint>
#include <string>
#include <vector>

#include "ecom/pipeline/ingest.hpp"
#include "ecom/pipeline/summary.hpp"

namespace CLI {
class App;
}
namespace ecom {
struct Context;
}

namespace ecom::pipeline {

struct ScoreOptions {
  std::string model;                // run directory (ecom.h5, optionally events.h5)
  std::vector<std::string> inputs;  // new events: files or glob patterns (.csv, .csv.gz)
  std::string out;                  // output directory
  std::string key_file;             // the run's pseudonymisation key
  std::string run_time;             // updated_at of the outputs; "" = now
  bool history = true;              // add the users' events from RUNDIR/events.h5
  int top_n = 0;                    // 0: as the run (the /als attribute top_n)
  std::string exclude;              // "": as the run
  std::size_t shuffle_buffer_mb = kDefaultShuffleBufferMb;
};

// Collective. Throws UserError / InputError (collectively) for a missing model, bad options or
// unusable input.
ScoreSummary run_score(Context& ctx, const ScoreOptions& opts);

}  // namespace ecom::pipeline
