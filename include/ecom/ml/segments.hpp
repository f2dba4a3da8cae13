#pragma once
// Segment profiles (size, share, revenue, revenue share, mean of every raw feature), rule-based
// segment names, and a soft segment confidence per user. See docs/SEGMENTS.md.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ecom/ml/kmeans.hpp"
#include "ecom/par/comm.hpp"

namespace ecom::ml {

struct SegmentProfile {
  int segment = 0;
  std::string name;
  std::uint64_t users = 0;
  double share = 0;           // users / all users
  double revenue = 0;         // sum of the revenue feature (monetary) over the segment
  double revenue_share = 0;   // revenue / all revenue (0 when there is no revenue at all)
  std::vector<double> means;  // per feature, in `SegmentProfiles::features` order (NaN if empty)
};

struct SegmentProfiles {
  std::vector<std::string> features;
  std::vector<double> overall_means;  // population mean per feature
  std::uint64_t users = 0;
  double revenue = 0;
  std::vector<SegmentProfile> segments;  // segment id order
};

// Collective. `features` is this rank's n_local × F matrix of raw (untransformed) features,
// `names` their F names, `labels` the segments of the local users in [0, k). Sums are exact, so
// the profiles are bit-identical for any number of ranks. Throws UserError if `revenue_feature`
// is not among the names.
SegmentProfiles profile_segments(par::Comm& comm, const RowMatrix& features,
                                 std::span<const std::string> names,
                                 std::span<const std::int32_t> labels, int k,
                                 const std::string& revenue_feature = "monetary");

// ---- names ------------------------------------------------------------------------------

enum class CompareOp { ge, gt, le, lt };

// `quantity op value`, or `quantity op value x` (relative: value times the reference).
// Quantities: a feature name (the segment mean; "<feature>_mean" is accepted too), whose
// reference is the population mean; `share` and `revenue_share` (reference 1/k); `users` and
// `revenue` (reference: total/k).
struct Condition {
  std::string quantity;
  CompareOp op = CompareOp::ge;
  double value = 0;
  bool relative = false;
};

struct NamingRule {
  std::string name;
  std::vector<Condition> conditions;  // all must hold; none: always matches
  std::string text;                   // as written
};

// Grammar: `NAME: COND [& COND]...` (`and` may replace `&`; `NAME:` alone always matches),
// COND = `QUANTITY OP NUMBER[x]`, OP one of >= > <= <. Throws UserError with the rule text on a
// syntax error.
NamingRule parse_naming_rule(std::string_view text);
std::vector<NamingRule> parse_naming_rules(std::span<const std::string> texts);

// The default ordered rules (VIP, top spenders, loyal, bargain hunters, active buyers, cart
// abandoners, window shoppers, dormant, and occasional for the rest), as text, for
// configs/default.toml; docs/SEGMENTS.md gives the reasoning.
std::vector<std::string> default_naming_rules();

// Names for every segment: the first rule whose conditions all hold, else "segment N" (N the
// segment id). Names are made unique by suffixing " 2", " 3", ... to later segments (segment id
// order) that got a name already used. Throws UserError if a rule names an unknown quantity.
std::vector<std::string> name_segments(const SegmentProfiles& profiles,
                                       std::span<const NamingRule> rules);
// Same, writing the names into profiles.segments[*].name.
void apply_names(SegmentProfiles& profiles, std::span<const NamingRule> rules);

// segment_profiles.csv: segment_id,name,users,share,revenue,revenue_share,<feature>_mean...
// (numbers with %.10g; names quoted when they contain a comma or a quote).
std::string segment_profiles_csv(const SegmentProfiles& profiles);

// ---- soft confidence ----------------------------------------------------------------------

// Posterior probability of the user's own segment under an equal-weight isotropic Gaussian
// mixture with the k-means centroids and the pooled variance σ² = inertia / (n_total · d):
// p = exp(−‖x−c_own‖²/2σ²) / Σ_c exp(−‖x−c‖²/2σ²), in [1/k, 1]. With σ² = 0 (every user on its
// centroid) it is 1 divided by the number of centroids at the user's minimal distance.
// Pure per user (no communication).
std::vector<double> segment_confidence(const RowMatrix& scores, const RowMatrix& centroids,
                                       std::span<const std::int32_t> labels, double sigma2);
// σ² for segment_confidence from the clustering.
double pooled_variance(double inertia, std::uint64_t n_total, Eigen::Index d);

}  // namespace ecom::ml
