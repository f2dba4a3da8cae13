// The results-file module (pipeline/results.hpp): every group saved by some ranks' rows and
// loaded back equals what was saved, under np 1..4; checkpoint state comes back per rank.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "ecom/io/h5.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/pipeline/results.hpp"

using ecom::par::Comm;
namespace h5 = ecom::io::h5;
namespace ml = ecom::ml;
namespace results = ecom::pipeline::results;

namespace {

std::string shared_path(Comm& comm, const std::string& name) {
  long pid = comm.rank() == 0 ? static_cast<long>(::getpid()) : 0;
  comm.bcast(pid, 0);
  return (std::filesystem::temp_directory_path() /
          ("ecom_mpi_results_" + std::to_string(pid) + "_" + name))
      .string();
}

void remove(Comm& comm, const std::string& path) {
  comm.barrier();
  if (comm.rank() == 0) std::filesystem::remove(path);
}

ml::RecommenderResult some_recommendations(int rank) {
  ml::RecommenderResult r;
  for (std::uint32_t i = 0; i < 3; ++i) {
    ml::Recommendation rec;
    rec.user = 100 + static_cast<std::uint64_t>(rank);
    rec.product = 7 + i;
    rec.rank = i + 1;
    rec.score = 0.5 / (i + 1);
    rec.source = i == 2 ? ml::RecSource::popular : ml::RecSource::als;
    r.recommendations.push_back(rec);
  }
  r.evaluation.test_pairs = 11;
  r.evaluation.als.precision_at_10 = 0.25;
  r.evaluation.popularity.ndcg_at_10 = 0.125;
  auto& cat = r.catalogue;
  cat.factors = 2;
  cat.products = {3, 5, 9};
  cat.category = {1, 1, 2};
  cat.popularity = {4, 2, 1};
  cat.item_factors = {1, 2, 3, 4, 5, 6};
  r.model.factors = 2;
  r.model.users = {static_cast<std::uint64_t>(rank)};
  r.model.user_factors = {0.5, -0.5};
  return r;
}

}  // namespace

TEST(Results, ModelGroupsRoundTrip) {
  Comm comm = Comm::world();
  const std::string path = shared_path(comm, "model.h5");
  ml::Scaler scaler;
  scaler.names = {"a", "b"};
  scaler.log1p = {1, 0};
  scaler.mean = {0.5, 2};
  scaler.scale = {1, 3};
  scaler.constant = {0, 1};
  scaler.n = 9;
  ml::Pca pca;
  pca.mean = Eigen::VectorXd::Constant(2, 0.25);
  pca.loadings = ml::RowMatrix{{1, 0}, {0, 1}};
  pca.eigenvalues = Eigen::VectorXd::Constant(2, 1.5);
  pca.explained_ratio = Eigen::VectorXd::Constant(2, 0.5);
  results::Segmentation seg{ml::RowMatrix{{1, 2}, {3, 4}, {5, 6}}, {"x", "y", "z"}, 7.5, 3, 10, 20};
  ml::KSelection sel;
  sel.table.resize(2);
  sel.table[0].k = 2;
  sel.table[0].gap = std::numeric_limits<double>::quiet_NaN();
  sel.table[1].k = 3;
  sel.table[1].inertia = 4.5;
  sel.choice.k = 3;
  sel.choice.reason = "because";
  ml::PropensityModel prop;
  prop.trained = true;
  prop.fit.coef = {0.1, 0.2, 0.3};
  prop.scaler = scaler;
  prop.auc = 0.75;
  ml::PropensityOptions popts;
  ml::RecommenderConfig rcfg;
  rcfg.als.alpha = 3.5;
  rcfg.recommend.top_n = 4;
  rcfg.recommend.exclude = ml::Exclusion::interacted;
  const auto recs = some_recommendations(comm.rank());
  {
    auto file = h5::File::create(comm, path);
    const auto& root = file.root();
    results::save_propensity(comm, root, prop, {}, popts);
    {
      auto model = root.create_group("model");
      results::save_transform(comm, model, scaler);
      results::save_scaler(comm, model, scaler);
      results::save_pca(comm, model, pca);
      results::save_segmentation(comm, model, seg);
    }
    results::save_validation(comm, root, sel);
    results::save_als(comm, root, recs, rcfg);
    results::save_recommendations(comm, root, recs, rcfg.holdout);
    file.close();
  }
  {
    auto file = h5::File::open(comm, path, false);
    const auto& root = file.root();
    ml::Scaler s;
    results::load_transform(root, s);
    results::load_scaler(root, s);
    EXPECT_EQ(s.names, scaler.names);
    EXPECT_EQ(s.log1p, scaler.log1p);
    EXPECT_EQ(s.mean, scaler.mean);
    EXPECT_EQ(s.scale, scaler.scale);
    EXPECT_EQ(s.constant, scaler.constant);
    EXPECT_EQ(s.n, scaler.n);
    const ml::Pca p = results::load_pca(root);
    EXPECT_EQ(p.mean, pca.mean);
    EXPECT_EQ(p.loadings, pca.loadings);
    EXPECT_EQ(p.explained_ratio, pca.explained_ratio);
    const auto g = results::load_segmentation(root);
    EXPECT_EQ(g.centroids, seg.centroids);
    EXPECT_EQ(g.names, seg.names);
    EXPECT_EQ(g.inertia, seg.inertia);
    EXPECT_EQ(g.k, 3);
    EXPECT_EQ(g.window_start, 10u);
    EXPECT_EQ(g.window_end, 20u);
    const auto v = results::load_validation(root);
    ASSERT_EQ(v.table.size(), 2u);
    EXPECT_TRUE(std::isnan(v.table[0].gap));
    EXPECT_EQ(v.table[1].k, 3);
    EXPECT_EQ(v.table[1].inertia, 4.5);
    EXPECT_EQ(v.choice.k, 3);
    EXPECT_EQ(v.choice.reason, "because");
    const auto q = results::load_propensity(root);
    EXPECT_TRUE(q.trained);
    EXPECT_EQ(q.fit.coef, prop.fit.coef);
    EXPECT_EQ(q.scaler.names, scaler.names);
    EXPECT_EQ(q.auc, 0.75);
    const auto als = results::load_als(root);
    ASSERT_TRUE(als.has_value());
    EXPECT_EQ(als->catalogue.products, recs.catalogue.products);
    EXPECT_EQ(als->catalogue.item_factors, recs.catalogue.item_factors);
    EXPECT_EQ(als->catalogue.factors, 2);
    EXPECT_EQ(als->settings.alpha, 3.5);
    EXPECT_EQ(als->settings.top_n, 4);
    EXPECT_EQ(als->settings.exclude, ml::Exclusion::interacted);
    const auto r = results::load_recommendations(root);
    ASSERT_EQ(r.rows.size(), 3u * static_cast<std::size_t>(comm.size()));
    for (std::size_t i = 0; i < r.rows.size(); ++i) {  // rank after rank
      const auto of_rank = some_recommendations(static_cast<int>(i / 3));
      const auto& want = of_rank.recommendations[i % 3];
      EXPECT_EQ(r.rows[i].user, want.user);
      EXPECT_EQ(r.rows[i].product, want.product);
      EXPECT_EQ(r.rows[i].rank, want.rank);
      EXPECT_EQ(r.rows[i].score, want.score);
      EXPECT_EQ(r.rows[i].source, want.source);
    }
    EXPECT_EQ(r.evaluation.test_pairs, 11u);
    EXPECT_EQ(r.evaluation.als.precision_at_10, 0.25);
    EXPECT_EQ(r.evaluation.popularity.ndcg_at_10, 0.125);
    file.close();
  }
  remove(comm, path);
}

TEST(Results, PropensityNotTrainedAndNoAls) {
  Comm comm = Comm::world();
  const std::string path = shared_path(comm, "empty.h5");
  {
    auto file = h5::File::create(comm, path);
    ml::PropensityModel prop;
    prop.skipped = "too few buyers";
    results::save_propensity(comm, file.root(), prop, {}, ml::PropensityOptions{});
    file.close();
  }
  {
    auto file = h5::File::open(comm, path, false);
    EXPECT_FALSE(results::load_propensity(file.root()).trained);
    EXPECT_FALSE(results::load_als(file.root()).has_value());
    file.close();
  }
  remove(comm, path);
}

TEST(Results, CheckpointStatePerRank) {
  Comm comm = Comm::world();
  const std::string path = shared_path(comm, "state.h5");
  const int r = comm.rank();
  ecom::features::FeatureTable table;
  for (int i = 0; i <= r; ++i) {  // rank r holds r + 1 users
    table.users.push_back(static_cast<std::uint64_t>(1000 * r + i));
    for (std::size_t c = 0; c < ecom::features::FeatureTable::cols(); ++c)
      table.values.push_back(r + 0.5 * i + static_cast<double>(c));
  }
  ml::AlsState als;
  als.iteration = 4;
  als.loss = {3, 2, 1.5, 1.25};
  als.user_factors.assign(static_cast<std::size_t>(2 * (r + 1)), 0.5 * r);
  als.item_factors = {static_cast<double>(r)};
  ml::KSelection sel;
  sel.table.resize(1);
  sel.table[0].k = 2;
  sel.table[0].silhouette_sample = 12;
  sel.table[0].iterations = 6;
  sel.choice = {2, "fixed", 0, 0};
  sel.model.centroids = ml::RowMatrix{{1, 2}, {3, 4}};
  sel.model.labels.assign(static_cast<std::size_t>(r + 1), r % 2);
  sel.model.dist2.assign(static_cast<std::size_t>(r + 1), 0.25);
  sel.model.sizes = {5, 6};
  sel.model.converged = true;
  {
    auto file = h5::File::create(comm, path);
    {  // groups closed before the file
      auto f = file.root().create_group("f");
      auto a = file.root().create_group("a");
      auto s = file.root().create_group("s");
      results::save_feature_state(comm, f, table);
      results::save_als_state(comm, a, als);
      results::save_selection_state(comm, s, sel);
    }
    file.close();
  }
  {
    auto file = h5::File::open(comm, path, false);
    const auto t = results::load_feature_state(comm, file.root().open_group("f"));
    EXPECT_EQ(t.users, table.users);
    EXPECT_EQ(t.values, table.values);
    const auto a = results::load_als_state(comm, file.root().open_group("a"));
    EXPECT_EQ(a.iteration, 4);
    EXPECT_EQ(a.loss, als.loss);
    EXPECT_EQ(a.user_factors, als.user_factors);
    EXPECT_EQ(a.item_factors, als.item_factors);
    const auto s = results::load_selection_state(comm, file.root().open_group("s"));
    ASSERT_EQ(s.table.size(), 1u);
    EXPECT_EQ(s.table[0].silhouette_sample, 12u);
    EXPECT_EQ(s.table[0].iterations, 6);
    EXPECT_EQ(s.choice.reason, "fixed");
    EXPECT_EQ(s.model.centroids, sel.model.centroids);
    EXPECT_EQ(s.model.labels, sel.model.labels);
    EXPECT_EQ(s.model.dist2, sel.model.dist2);
    EXPECT_EQ(s.model.sizes, sel.model.sizes);
    EXPECT_TRUE(s.model.converged);
    file.close();
  }
  remove(comm, path);
}
