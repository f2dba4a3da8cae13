// ALS benchmark on the events of a store (not a test: it prints figures).
//
//   mpirun -np 2 build/bench/bench_als STORE.h5 [matrix.h5] [factors=50] [iterations=15]
//                                       [cg_steps=3] [precision=double] [seed=1]
//                                       [--exchange alltoallv|sparse] [--train-only]
//
// Reads every rank's events from STORE.h5, builds the interactions (default weights), splits
// them with the keyed 20% holdout of `ecom analyze` (seed as given), and
//  - writes the interaction matrix to matrix.h5 (if given and not "-"): datasets user, product
//    (u64), strength (f64), is_test and purchased (u8), one row per pair with strength > 0, in
//    global (user, product) order, plus the ALS settings as attributes; bench/als_reference.py
//    reads it;
//  - trains ALS on the training pairs (the analyze defaults: lambda 0.1, alpha 1, CG) and prints
//    seconds per iteration and per phase, the loss;
//  - evaluates it and the popularity recommender on the holdout (precision@10 etc.);
//  - times top-10 for every user over the whole catalogue (default exclusion: purchased).
// --exchange picks how factor rows travel (par/exchange.hpp); --train-only stops after the
// training (for the exchange figures, results/bench/exchange.txt). `factors_checksum` is a sum
// over users and products of a hash of (id, factor row bytes): the same for any rank count and
// exchanger when the factors are bit-identical.
// Prints `key value` lines (bench/bench_als.sh turns them into results/bench/als.txt). Times
// are the max over ranks.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include "ecom/io/event_store.hpp"
#include "ecom/io/h5.hpp"
#include "ecom/ml/als.hpp"
#include "ecom/ml/interactions.hpp"
#include "ecom/ml/recommend.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/environment.hpp"

using namespace ecom;
namespace h5 = ecom::io::h5;

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

void print(par::Comm& comm, const char* key, double local_seconds_or_value, bool max = true) {
  const double v = max ? comm.allreduce_max(local_seconds_or_value) : local_seconds_or_value;
  if (comm.rank() == 0) std::printf("%s %.9g\n", key, v);
}

void export_matrix(par::Comm& comm, const std::string& path,
                   const std::vector<ml::Interaction>& pairs, const ml::AlsConfig& als,
                   const ml::HoldoutConfig& holdout) {
  std::vector<std::uint64_t> user, product;
  std::vector<double> strength;
  std::vector<std::uint8_t> is_test, purchased;
  for (const auto& it : pairs) {
    if (!(it.strength > 0)) continue;
    user.push_back(it.user);
    product.push_back(it.product);
    strength.push_back(it.strength);
    is_test.push_back(it.is_test);
    purchased.push_back(it.purchased() ? 1 : 0);
  }
  auto file = h5::File::create(comm, path);
  const auto& root = file.root();
  h5::write_rows<std::uint64_t>(comm, root, "user", user);
  h5::write_rows<std::uint64_t>(comm, root, "product", product);
  h5::write_rows<double>(comm, root, "strength", strength);
  h5::write_rows<std::uint8_t>(comm, root, "is_test", is_test);
  h5::write_rows<std::uint8_t>(comm, root, "purchased", purchased);
  const auto a = root.attrs();
  a.set("factors", als.factors);
  a.set("regularization", als.regularization);
  a.set("alpha", als.alpha);
  a.set("iterations", als.iterations);
  a.set("cg_steps", als.cg_steps);
  a.set("init_scale", als.init_scale);
  a.set("test_fraction", holdout.test_fraction);
  file.close();
}

}  // namespace

// Order-free checksum of (id, row) pairs: summed over ranks, the same for any distribution.
std::uint64_t rows_checksum(const std::vector<std::uint64_t>& ids, const std::vector<double>& rows,
                            std::size_t k) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    std::uint64_t h = 1469598103934665603ULL ^ ids[i];
    const auto* b = reinterpret_cast<const unsigned char*>(rows.data() + i * k);
    for (std::size_t j = 0; j < k * sizeof(double); ++j) h = (h ^ b[j]) * 1099511628211ULL;
    sum += h;
  }
  return sum;
}

int main(int argc_in, char** argv_in) {
  par::Environment env(argc_in, argv_in);
  auto comm = par::Comm::world();
  // Flags first, then the positional arguments.
  std::vector<char*> args;
  par::ExchangeKind exchange = par::ExchangeKind::alltoallv;
  bool train_only = false;
  for (int i = 0; i < argc_in; ++i) {
    const std::string a = argv_in[i];
    if (a == "--exchange" && i + 1 < argc_in)
      exchange = par::parse_exchange_kind(argv_in[++i]);
    else if (a == "--train-only")
      train_only = true;
    else
      args.push_back(argv_in[i]);
  }
  const int argc = static_cast<int>(args.size());
  char** argv = args.data();
  if (argc < 2) {
    if (comm.rank() == 0)
      std::fprintf(stderr,
                   "usage: bench_als STORE.h5 [matrix.h5|-] [factors] [iterations] [cg_steps] "
                   "[double|float] [seed]\n");
    return 2;
  }
  const std::string store_path = argv[1];
  const std::string matrix = argc > 2 ? argv[2] : "-";
  ml::RecommenderConfig cfg;
  cfg.als.factors = argc > 3 ? std::stoi(argv[3]) : 50;
  cfg.als.iterations = argc > 4 ? std::stoi(argv[4]) : 15;
  cfg.als.cg_steps = argc > 5 ? std::stoi(argv[5]) : 3;
  cfg.als.precision = ml::parse_factor_precision(argc > 6 ? argv[6] : "double");
  const std::uint64_t seed = argc > 7 ? std::stoull(argv[7]) : 1;
  cfg.als.seed = seed;
  cfg.holdout.seed = seed;

  auto t0 = Clock::now();
  const auto store = io::EventStore::open(comm, store_path);
  const std::vector<Event> events = store.read_my_events(comm);
  cfg.als.vshards = store.vshards();
  print(comm, "read_seconds", since(t0));
  t0 = Clock::now();
  const std::vector<std::uint64_t> users = ml::distinct_users(events);
  std::vector<ml::Interaction> pairs = ml::build_interactions(events, cfg.weights);
  ml::split_holdout(comm, pairs, cfg.holdout);
  print(comm, "interactions_seconds", since(t0));
  std::uint64_t counts[4] = {events.size(), users.size(), 0, 0};
  for (const auto& it : pairs) {
    counts[2] += (it.strength > 0 && !it.is_test) ? 1 : 0;
    counts[3] += (it.strength > 0 && it.is_test) ? 1 : 0;
  }
  comm.allreduce_sum(std::span<std::uint64_t>(counts, 4));
  print(comm, "ranks", comm.size(), false);
  print(comm, "events", static_cast<double>(counts[0]), false);
  print(comm, "users", static_cast<double>(counts[1]), false);
  print(comm, "train_pairs", static_cast<double>(counts[2]), false);
  print(comm, "test_pairs", static_cast<double>(counts[3]), false);
  print(comm, "factors", cfg.als.factors, false);
  print(comm, "iterations", cfg.als.iterations, false);
  print(comm, "cg_steps", cfg.als.cg_steps, false);
  print(comm, "float", cfg.als.precision == ml::FactorPrecision::float32 ? 1 : 0, false);

  if (matrix != "-") {
    t0 = Clock::now();
    export_matrix(comm, matrix, pairs, cfg.als, cfg.holdout);
    print(comm, "export_seconds", since(t0));
  }

  // CPU seconds of this process per iteration (wall times mislead on a shared machine): read
  // after the setup (the resume hook) and after every sweep (the checkpoint hook).
  std::vector<double> cpu_marks;
  cfg.als.resume = [&cpu_marks]() -> const ml::AlsState* {
    cpu_marks.push_back(cpu_seconds());
    return nullptr;
  };
  cfg.als.after_iteration = [&cpu_marks](int, const std::function<ml::AlsState()>&) {
    cpu_marks.push_back(cpu_seconds());
  };
  comm.barrier();
  t0 = Clock::now();
  cfg.als.exchange = exchange;
  const ml::AlsModel model = ml::train_als(comm, users, pairs, cfg.als);
  const double train = comm.allreduce_max(since(t0));
  std::uint64_t items = model.items.size();
  items = comm.allreduce_sum(items);
  print(comm, "products", static_cast<double>(items), false);
  print(comm, "train_seconds", train, false);
  print(comm, "setup_seconds", model.setup_seconds);
  double sum = 0;
  for (std::size_t i = 0; i < model.iteration_seconds.size(); ++i) {
    const double s = comm.allreduce_max(model.iteration_seconds[i]);
    sum += s;
    if (comm.rank() == 0) std::printf("iteration_%zu_seconds %.6f\n", i + 1, s);
  }
  const double n_it = std::max<double>(1, static_cast<double>(model.iteration_seconds.size()));
  print(comm, "seconds_per_iteration", sum / n_it, false);
  if (cpu_marks.size() >= 2)
    print(comm, "cpu_seconds_per_iteration",
          (cpu_marks.back() - cpu_marks.front()) / static_cast<double>(cpu_marks.size() - 1));
  print(comm, "solve_seconds_per_iteration", model.solve_seconds / n_it);
  print(comm, "exchange_seconds_per_iteration", model.exchange_seconds / n_it);
  print(comm, "gram_seconds_per_iteration", model.gram_seconds / n_it);
  print(comm, "loss_seconds_per_iteration", model.loss_seconds / n_it);
  if (!model.loss.empty()) print(comm, "final_loss", model.loss.back(), false);
  {
    const auto k = static_cast<std::size_t>(model.factors);
    std::uint64_t checksum = rows_checksum(model.users, model.user_factors, k) +
                             rows_checksum(model.items, model.item_factors, k);
    checksum = comm.allreduce_sum(checksum);
    if (comm.rank() == 0)
      std::printf("exchange %s\nfactors_checksum %016llx\n", par::name_of(exchange),
                  static_cast<unsigned long long>(checksum));
  }
  if (train_only) return 0;

  t0 = Clock::now();
  const ml::Catalogue cat = ml::gather_catalogue(comm, model, pairs, cfg.als.vshards);
  print(comm, "catalogue_seconds", since(t0));
  t0 = Clock::now();
  const ml::Evaluation ev = ml::evaluate_holdout(comm, model, cat, pairs, cfg.evaluation);
  print(comm, "evaluate_seconds", since(t0));
  const std::pair<const char*, const ml::RankingMetrics*> recs[2] = {
      {"als", &ev.als}, {"popularity", &ev.popularity}};
  for (const auto& [name, m] : recs) {
    if (comm.rank() != 0) continue;
    std::printf("%s_precision_at_10 %.9g\n%s_recall_at_10 %.9g\n%s_map_at_10 %.9g\n", name,
                m->precision_at_10, name, m->recall_at_10, name, m->map_at_10);
    std::printf("%s_ndcg_at_10 %.9g\n%s_auc %.9g\n%s_coverage %.9g\n%s_users %llu\n", name,
                m->ndcg_at_10, name, m->auc, name, m->coverage, name,
                static_cast<unsigned long long>(m->users));
  }

  ml::RecommendConfig rc;
  rc.top_n = 10;
  comm.barrier();
  t0 = Clock::now();
  const double cpu0 = cpu_seconds();
  ml::TopNStats stats;
  const auto top = ml::recommend_top_n(comm, model, cat, pairs, rc, &stats);
  print(comm, "topn_seconds", since(t0));
  print(comm, "topn_cpu_seconds", cpu_seconds() - cpu0);
  std::uint64_t rows = top.size();
  rows = comm.allreduce_sum(rows);
  print(comm, "topn_rows", static_cast<double>(rows), false);
  print(comm, "topn_coverage", stats.coverage, false);
  return 0;
}
