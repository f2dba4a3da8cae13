#include "ecom/io/read_plan.hpp"

#include <algorithm>
#include <numeric>

#include "ecom/core/error.hpp"

namespace ecom::io {

std::vector<int> assign_greedy(std::span<const std::uint64_t> cost,
                               std::vector<std::uint64_t>& load, std::vector<std::size_t>& jobs) {
  if (load.empty() || jobs.size() != load.size())
    throw Error("assign_greedy: load and jobs must have one entry per rank");
  std::vector<std::size_t> order(cost.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return cost[a] > cost[b]; });
  std::vector<int> owner(cost.size(), 0);
  for (const std::size_t f : order) {
    std::size_t best = 0;
    for (std::size_t r = 1; r < load.size(); ++r)
      if (load[r] < load[best] || (load[r] == load[best] && jobs[r] < jobs[best])) best = r;
    owner[f] = static_cast<int>(best);
    load[best] += cost[f];
    ++jobs[best];
  }
  return owner;
}

std::vector<std::uint64_t> level_shares(std::uint64_t total, std::span<const std::uint64_t> load) {
  const std::size_t p = load.size();
  if (p == 0) throw Error("level_shares: no ranks");
  std::vector<std::size_t> order(p);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return load[a] < load[b]; });
  // The level L (in cost units) of the k least loaded ranks: sum over them of (L - load) is the
  // plain work. The first k whose level does not reach the next rank's load is the answer (the
  // level of k - 1 ranks exceeded load[k - 1], so L >= every active load).
  const std::uint64_t work = total * kPlainCostCenti;
  std::uint64_t sum = work;
  std::uint64_t level = 0;
  std::size_t active = 0;
  for (std::size_t k = 1; k <= p; ++k) {
    sum += load[order[k - 1]];
    level = sum / k;
    active = k;
    if (k == p || level <= load[order[k]]) break;
  }
  std::vector<std::uint64_t> share(p, 0);
  std::uint64_t given = 0;
  for (std::size_t i = 0; i < active; ++i) {
    const std::size_t r = order[i];
    share[r] = (level - load[r]) / kPlainCostCenti;
    given += share[r];
  }
  // Rounding leaves fewer than `active` + 1 bytes: one each to the active ranks, lowest first.
  std::vector<std::size_t> ranks(order.begin(),
                                 order.begin() + static_cast<std::ptrdiff_t>(active));
  std::sort(ranks.begin(), ranks.end());
  for (std::size_t i = 0; given < total; i = (i + 1) % ranks.size(), ++given) ++share[ranks[i]];
  return share;
}

ReadPlan plan_read(std::span<const PlanFile> files, int ranks) {
  if (ranks < 1) throw Error("plan_read: no ranks");
  const auto p = static_cast<std::size_t>(ranks);
  ReadPlan plan;
  plan.gzip_owner.assign(files.size(), -1);
  plan.digest_owner.assign(files.size(), -1);
  std::vector<std::uint64_t> load(p, 0);
  std::vector<std::size_t> jobs(p, 0);
  // Whole gzip files first (the largest units of work), then the digests.
  std::vector<std::size_t> gz, dg;
  std::vector<std::uint64_t> gz_cost, dg_cost;
  std::uint64_t plain = 0;
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (files[i].gzip) {
      gz.push_back(i);
      gz_cost.push_back(files[i].size * kGzipCostCenti);
    } else {
      plain += files[i].size;
    }
    if (files[i].digest) {
      dg.push_back(i);
      dg_cost.push_back(files[i].size * kDigestCostCenti);
    }
  }
  const auto gz_owner = assign_greedy(gz_cost, load, jobs);
  for (std::size_t k = 0; k < gz.size(); ++k) plan.gzip_owner[gz[k]] = gz_owner[k];
  std::vector<std::size_t> no_jobs(p, 0);  // digest ties go by digests held, not by files read
  const auto dg_owner = assign_greedy(dg_cost, load, no_jobs);
  for (std::size_t k = 0; k < dg.size(); ++k) plan.digest_owner[dg[k]] = dg_owner[k];
  plan.plain_share = level_shares(plain, load);
  return plan;
}

std::vector<ByteRange> split_by_shares(std::span<const std::uint64_t> sizes,
                                       std::span<const std::uint64_t> shares, int rank) {
  const auto r = static_cast<std::size_t>(rank);
  if (r >= shares.size()) throw Error("split_by_shares: rank beyond the shares");
  const std::uint64_t lo = std::accumulate(shares.begin(), shares.begin() + rank, std::uint64_t{0});
  const std::uint64_t hi = lo + shares[r];
  std::vector<ByteRange> out;
  std::uint64_t file_start = 0;
  for (std::size_t f = 0; f < sizes.size(); ++f) {
    const std::uint64_t file_end = file_start + sizes[f];
    const std::uint64_t b = std::max(lo, file_start), e = std::min(hi, file_end);
    if (b < e) out.push_back(ByteRange{f, b - file_start, e - file_start});
    file_start = file_end;
  }
  return out;
}

}  // namespace ecom::io
