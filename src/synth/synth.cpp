#include "ecom/synth/synth.hpp"

#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <numeric>
#include <span>
#include <sstream>

#include "ecom/core/context.hpp"
#include "ecom/core/error.hpp"
#include "ecom/core/log.hpp"
#include "ecom/core/progress.hpp"
#include "ecom/core/timer.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/file.hpp"
#include "ecom/par/random.hpp"
#include "ecom/par/stats.hpp"

namespace ecom::synth {

// ---- stats -------------------------------------------------------------------------------

SynthStats::SynthStats(std::size_t months, std::size_t products)
    : month_rows(months, 0),
      session_hist(kSessionBins, 0),
      duration_hist(kDurationBins, 0),
      product_seen(products, 0) {}

void SynthStats::add_user(const Model& model, const UserData& user) {
  if (user.events.empty()) return;
  const auto& products = model.catalogue().products();
  const auto& categories = model.catalogue().categories();
  const auto& cal = model.calendar();
  ++users;
  ++archetype_users[static_cast<std::size_t>(user.archetype)];
  for (const GenEvent& e : user.events) {
    ++rows;
    ++type_rows[static_cast<std::size_t>(e.type)];
    if (e.duplicate) ++duplicate_rows;
    const Product& p = products[e.product];
    if (categories[p.category].code.empty()) ++empty_code_rows;
    if (p.brand_empty) ++empty_brand_rows;
    if (p.price_cents == 0) ++zero_price_rows;
    price_min_cents = std::min<std::uint64_t>(price_min_cents, p.price_cents);
    price_max_cents = std::max<std::uint64_t>(price_max_cents, p.price_cents);
    ++month_rows[static_cast<std::size_t>(cal.month_of(e.time - cal.start()))];
    product_seen[e.product] = 1;
  }
  for (const GenSession& s : user.sessions) {
    if (s.rows == 0) continue;
    ++sessions;
    session_rows_sum += s.rows;
    ++session_hist[std::min<std::size_t>(s.rows, kSessionBins - 1)];
    const std::uint64_t d = s.end - s.start;
    duration_sum += d;
    ++duration_hist[std::min<std::size_t>(d, kDurationBins - 1)];
  }
  future_purchases += user.future.size();
}

std::uint64_t SynthStats::quantile(const std::vector<std::uint64_t>& hist, double q) {
  std::uint64_t total = 0;
  for (auto c : hist) total += c;
  if (total == 0) return 0;
  std::uint64_t acc = 0;
  for (std::size_t v = 0; v < hist.size(); ++v) {
    acc += hist[v];
    if (static_cast<double>(acc) >= q * static_cast<double>(total)) return v;
  }
  return hist.size() - 1;
}

// ---- summary.json ------------------------------------------------------------------------

namespace {

std::string num(double v, int decimals = 6) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}
double share(std::uint64_t part, std::uint64_t whole) {
  return whole ? static_cast<double>(part) / static_cast<double>(whole) : 0.0;
}
std::string quoted(std::string_view s) {
  std::string q;
  q.reserve(s.size() + 2);
  q += '"';
  q.append(s);
  q += '"';
  return q;
}
std::string price_text(std::uint64_t cents) {
  std::string s;
  append_price(s, static_cast<std::uint32_t>(cents));
  return s;
}

}  // namespace

std::string summary_json(const Model& model, const SynthOptions& opts, const SynthStats& st,
                         std::uint64_t products_seen) {
  const auto& cal = model.calendar();
  const auto& cat = model.catalogue();
  const auto& tg = model.preset().targets;
  std::uint64_t dirty_rows = 0;
  for (auto d : st.dirty) dirty_rows += d;
  std::ostringstream o;
  o << "{\n";
  o << "  \"preset\": " << quoted(model.preset().name) << ",\n";
  o << "  \"seed\": " << model.seed() << ",\n";
  o << "  \"events_requested\": " << opts.model.events << ",\n";
  o << "  \"months\": [";
  for (std::size_t m = 0; m < cal.months().size(); ++m)
    o << (m ? ", " : "") << quoted(cal.months()[m].name);
  o << "],\n";
  o << "  \"window\": {\"start\": " << quoted(format_time(cal.start()))
    << ", \"end\": " << quoted(format_time(cal.start() + cal.window_seconds() - 1))
    << ", \"days\": " << cal.days() << "},\n";
  o << "  \"future\": {\"days\": " << cal.future_days()
    << ", \"start\": " << quoted(format_time(cal.start() + cal.window_seconds()))
    << ", \"purchases\": " << st.future_purchases << "},\n";
  o << "  \"catalogue\": {\"products\": " << cat.products().size()
    << ", \"categories\": " << cat.categories().size() << ", \"brands\": " << cat.brands().size()
    << ", \"taste_groups\": " << cat.taste_groups() << "},\n";
  o << "  \"rows\": " << st.rows << ",\n";
  o << "  \"dirty_rows\": " << dirty_rows << ",\n";
  o << "  \"lines\": " << st.rows + dirty_rows << ",\n";
  o << "  \"users\": " << st.users << ",\n";
  o << "  \"products\": " << products_seen << ",\n";
  o << "  \"sessions\": " << st.sessions << ",\n";
  o << "  \"event_types\": {";
  for (int t = 0; t < kEventTypes; ++t)
    o << (t ? ", " : "") << quoted(kEventTypeNames[static_cast<std::size_t>(t)])
      << ": {\"count\": " << st.type_rows[static_cast<std::size_t>(t)]
      << ", \"share\": " << num(share(st.type_rows[static_cast<std::size_t>(t)], st.rows)) << "}";
  o << "},\n";
  o << "  \"users_per_event\": " << num(share(st.users, st.rows)) << ",\n";
  o << "  \"products_per_event\": " << num(share(products_seen, st.rows)) << ",\n";
  o << "  \"sessions_per_event\": " << num(share(st.sessions, st.rows)) << ",\n";
  o << "  \"empty_category_code_share\": " << num(share(st.empty_code_rows, st.rows)) << ",\n";
  o << "  \"empty_brand_share\": " << num(share(st.empty_brand_rows, st.rows)) << ",\n";
  o << "  \"zero_price_rows\": " << st.zero_price_rows << ",\n";
  o << "  \"zero_price_share\": " << num(share(st.zero_price_rows, st.rows)) << ",\n";
  o << "  \"duplicate_rows\": " << st.duplicate_rows << ",\n";
  o << "  \"duplicate_share\": " << num(share(st.duplicate_rows, st.rows)) << ",\n";
  o << "  \"price_min\": " << (st.rows ? price_text(st.price_min_cents) : "0.00") << ",\n";
  o << "  \"price_max\": " << price_text(st.price_max_cents) << ",\n";
  o << "  \"events_per_session\": {\"mean\": " << num(share(st.session_rows_sum, st.sessions))
    << ", \"median\": " << SynthStats::quantile(st.session_hist, 0.5)
    << ", \"p75\": " << SynthStats::quantile(st.session_hist, 0.75) << "},\n";
  o << "  \"session_duration_s\": {\"mean\": " << num(share(st.duration_sum, st.sessions), 3)
    << ", \"median\": " << SynthStats::quantile(st.duration_hist, 0.5) << "},\n";
  o << "  \"files\": [";
  for (std::size_t m = 0; m < cal.months().size(); ++m)
    o << (m ? ", " : "") << "{\"month\": " << quoted(cal.months()[m].name) << ", \"path\": "
      << quoted("events/" + cal.months()[m].name + (opts.gzip ? ".csv.gz" : ".csv"))
      << ", \"rows\": " << st.month_rows[m] << "}";
  o << "],\n";
  o << "  \"dirty\": {\"rate\": " << num(opts.dirty);
  for (int k = 0; k < kDirtyKinds; ++k)
    o << ", " << quoted(kDirtyNames[static_cast<std::size_t>(k)]) << ": "
      << st.dirty[static_cast<std::size_t>(k)];
  o << "},\n";
  o << "  \"archetypes\": {";
  for (int a = 0; a < kArchetypes; ++a)
    o << (a ? ", " : "") << quoted(kArchetypeNames[static_cast<std::size_t>(a)]) << ": "
      << st.archetype_users[static_cast<std::size_t>(a)];
  o << "},\n";
  o << "  \"targets\": {\"event_types\": {";
  for (int t = 0; t < kEventTypes; ++t)
    o << (t ? ", " : "") << quoted(kEventTypeNames[static_cast<std::size_t>(t)]) << ": "
      << num(tg.type_share[static_cast<std::size_t>(t)], 4);
  o << "}, \"users_per_event\": " << num(tg.users_per_event)
    << ", \"products_per_event\": " << num(tg.products_per_event)
    << ", \"sessions_per_event\": " << num(tg.sessions_per_event)
    << ", \"empty_category_code_share\": " << num(tg.empty_category_code, 4)
    << ", \"empty_brand_share\": " << num(tg.empty_brand, 4)
    << ", \"zero_price_share\": " << num(tg.zero_price)
    << ", \"duplicate_share\": " << num(tg.duplicate_share)
    << ", \"events_per_session\": {\"mean\": " << num(tg.events_per_session_mean, 3)
    << ", \"median\": " << num(tg.events_per_session_median, 0)
    << ", \"p75\": " << num(tg.events_per_session_p75, 0) << "}"
    << ", \"session_duration_s\": {\"mean\": " << num(tg.session_duration_mean_s, 0)
    << ", \"median\": " << num(tg.session_duration_median_s, 0) << "}}\n";
  o << "}\n";
  return o.str();
}

// ---- gzip --------------------------------------------------------------------------------

std::string gzip_member(std::string_view text, int level) {
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw Error("deflateInit2 failed");
  std::string out;
  out.resize(static_cast<std::size_t>(deflateBound(&zs, static_cast<uLong>(text.size()))) + 64);
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(std::min<std::size_t>(out.size(), UINT32_MAX));
  std::size_t fed = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (zs.avail_in == 0 && fed < text.size()) {
      const std::size_t n = std::min<std::size_t>(text.size() - fed, 1u << 30);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data() + fed));
      zs.avail_in = static_cast<uInt>(n);
      fed += n;
    }
    if (zs.avail_out == 0) {
      const std::size_t used = out.size();
      out.resize(used * 2);
      zs.next_out = reinterpret_cast<Bytef*>(out.data() + used);
      zs.avail_out = static_cast<uInt>(std::min<std::size_t>(out.size() - used, UINT32_MAX));
    }
    rc = deflate(&zs, fed == text.size() && zs.avail_in == 0 ? Z_FINISH : Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      deflateEnd(&zs);
      throw Error("deflate failed");
    }
  }
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// ---- the run -----------------------------------------------------------------------------

namespace {

// Splits a clean row's product part "pid,cid,code,brand,price," into RowFields 2..6.
void fill_product_fields(RowFields& rf, const std::string& product_part) {
  std::size_t pos = 0;
  for (int i = 2; i <= 6; ++i) {
    const std::size_t comma = product_part.find(',', pos);
    rf.f[static_cast<std::size_t>(i)] = product_part.substr(pos, comma - pos);
    pos = comma + 1;
  }
}

void remove_quietly(const std::filesystem::path& p) {
  std::error_code ec;
  std::filesystem::remove(p, ec);
}

}  // namespace

SynthStats run_synth(Context& ctx, const SynthOptions& opts) {
  par::Comm& comm = ctx.comm;
  const int rank = comm.rank();
  const int n_ranks = comm.size();
  ScopedTimer total_timer(ctx.timers, "synth");

  // Options and the model (every rank builds the same one).
  std::string error;
  if (!(opts.dirty >= 0.0 && opts.dirty <= 0.5))
    error = "--dirty must be in [0, 0.5]";
  else if (opts.gzip_level < 1 || opts.gzip_level > 9)
    error = "--gzip-level must be in 1..9";
  else if (opts.block_users < 1)
    error = "--block-users must be at least 1";
  else if (opts.out.empty())
    error = "--out must name a directory";
  std::unique_ptr<Model> model;
  if (error.empty()) {
    try {
      ScopedTimer t(ctx.timers, "model");
      model = std::make_unique<Model>(opts.model);
    } catch (const Error& e) {
      error = e.what();
    }
  }
  par::agree(comm, error, ExitCode::usage);

  const std::filesystem::path out_dir(opts.out);
  if (rank == 0) {
    std::error_code ec;
    std::filesystem::create_directories(out_dir / "events", ec);
    if (!ec) std::filesystem::create_directories(out_dir / "truth", ec);
    if (ec) error = "cannot create " + (out_dir / "events").string() + ": " + ec.message();
  }
  par::agree(comm, error, ExitCode::input);

  const Calendar& cal = model->calendar();
  const Catalogue& cat = model->catalogue();
  const std::size_t n_months = cal.months().size();
  const std::uint64_t n_users = model->users();
  const std::uint64_t bu = opts.block_users;
  const std::uint64_t n_blocks = (n_users + bu - 1) / bu;
  const std::uint64_t b0 =
      n_blocks * static_cast<std::uint64_t>(rank) / static_cast<std::uint64_t>(n_ranks);
  const std::uint64_t b1 =
      n_blocks * static_cast<std::uint64_t>(rank + 1) / static_cast<std::uint64_t>(n_ranks);
  const std::uint64_t u_begin = std::min(n_users, b0 * bu), u_end = std::min(n_users, b1 * bu);
  {
    std::string months;
    for (const auto& m : cal.months()) months += (months.empty() ? "" : ",") + m.name;
    ctx.log.info("synth: preset ", model->preset().name, ", ", n_users, " users, ",
                 cat.products().size(), " products in ", cat.categories().size(), " categories, ",
                 cat.brands().size(), " brands, ", cat.taste_groups(), " taste groups; ",
                 cal.days(), " days (", months, ") + ", cal.future_days(), " future days; seed ",
                 model->seed(), "; ", n_ranks, " ranks, ", n_blocks, " blocks of ", bu, " users");
  }

  // Each product's part of a row: "product_id,category_id,category_code,brand,price,".
  std::vector<std::string> product_part(cat.products().size());
  for (std::size_t j = 0; j < product_part.size(); ++j) {
    const Product& p = cat.products()[j];
    const Category& c = cat.categories()[p.category];
    std::string& s = product_part[j];
    append_uint(s, p.id);
    s += ',';
    append_uint(s, c.id);
    s += ',';
    s += c.code;
    s += ',';
    if (!p.brand_empty) s += cat.brands()[p.brand];
    s += ',';
    append_price(s, p.price_cents);
    s += ',';
  }

  // ---- generate and format this rank's blocks ----
  SynthStats stats(n_months, cat.products().size());
  std::vector<std::string> month_out(n_months), block_text(n_months);
  std::string users_csv, future_csv, uid, uuids;
  UserData user;
  UserScratch scratch;
  RowFields rf;
  const double dirty_p = opts.dirty > 0 ? opts.dirty / (1.0 - opts.dirty) : 0.0;
  const auto t_gen0 = std::chrono::steady_clock::now();
  {
    ScopedTimer t(ctx.timers, "generate");
    Progress progress("synth", u_end - u_begin, "users", ctx.progress && rank == 0);
    for (std::uint64_t b = b0; b < b1; ++b) {
      const std::uint64_t lo = b * bu, hi = std::min(n_users, lo + bu);
      std::vector<std::string>& sink = opts.gzip ? block_text : month_out;
      if (opts.gzip)
        for (auto& s : block_text) s.clear();
      for (std::uint64_t u = lo; u < hi; ++u) {
        generate_user(*model, u, user, scratch);
        stats.add_user(*model, user);
        uid.clear();
        append_uint(uid, user.user_id);
        uuids.clear();
        for (const GenSession& s : user.sessions) append_uuid(uuids, s.uuid_hi, s.uuid_lo);
        par::Stream ds(model->seed(), par::Purpose::synth_dirty, u);
        for (const GenEvent& e : user.events) {
          std::string& o = sink[static_cast<std::size_t>(cal.month_of(e.time - cal.start()))];
          const std::size_t row_begin = o.size();
          append_time(o, e.time);
          o += ',';
          o += name_of(e.type);
          o += ',';
          o += product_part[e.product];
          o += uid;
          o += ',';
          o.append(uuids, static_cast<std::size_t>(e.session) * 36, 36);
          o += '\n';
          if (dirty_p > 0 && !e.duplicate && ds.uniform() < dirty_p) {
            const auto kind = static_cast<DirtyKind>(ds.index(kDirtyKinds));
            const int variant =
                static_cast<int>(ds.index(static_cast<std::uint64_t>(dirty_variants(kind))));
            std::uint64_t hi_bits = ds.bits(), lo_bits = ds.bits();
            make_uuid_v4(hi_bits, lo_bits);
            rf.f[0] = o.substr(row_begin, 23);
            rf.f[1] = std::string(name_of(e.type));
            fill_product_fields(rf, product_part[e.product]);
            rf.f[7] = uid;
            rf.f[8].clear();
            append_uuid(rf.f[8], hi_bits, lo_bits);
            append_dirty_row(o, rf, kind, variant);
            ++stats.dirty[static_cast<std::size_t>(kind)];
          }
        }
        users_csv += uid;
        users_csv += ',';
        users_csv += kArchetypeNames[static_cast<std::size_t>(user.archetype)];
        users_csv += ',';
        append_uint(users_csv, static_cast<std::uint64_t>(user.taste_group));
        users_csv += '\n';
        for (const FuturePurchase& f : user.future) {
          future_csv += uid;
          future_csv += ',';
          append_uint(future_csv, cat.products()[f.product].id);
          future_csv += ',';
          append_time(future_csv, f.time);
          future_csv += '\n';
        }
      }
      if (opts.gzip)
        for (std::size_t m = 0; m < n_months; ++m)
          if (!block_text[m].empty()) month_out[m] += gzip_member(block_text[m], opts.gzip_level);
      progress.update(hi - u_begin);
    }
    progress.finish();
  }
  const double gen_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_gen0).count();
  std::uint64_t local_dirty = 0;
  for (auto d : stats.dirty) local_dirty += d;
  const std::uint64_t my_lines = stats.rows + local_dirty;
  ctx.timers.add_items("synth/generate", my_lines, "rows");

  // ---- write (ordered collective writes: byte-identical for any number of ranks) ----
  {
    ScopedTimer t(ctx.timers, "write");
    for (std::size_t m = 0; m < n_months; ++m) {
      const std::string name = cal.months()[m].name;
      const auto path = out_dir / "events" / (name + (opts.gzip ? ".csv.gz" : ".csv"));
      if (rank == 0) remove_quietly(out_dir / "events" / (name + (opts.gzip ? ".csv" : ".csv.gz")));
      const std::string header =
          opts.gzip ? gzip_member(kHeader, opts.gzip_level) : std::string(kHeader);
      par::write_ordered(comm, path.string(), month_out[m], header);
      std::string().swap(month_out[m]);
    }
    par::write_ordered(comm, (out_dir / "truth" / "users.csv").string(), users_csv,
                       "user_id,archetype,taste_group\n");
    par::write_ordered(comm, (out_dir / "truth" / "future_purchases.csv").string(), future_csv,
                       "user_id,product_id,event_time\n");
  }

  // ---- merge the stats exactly (integer sums) ----
  std::vector<std::uint64_t> packed;
  auto pack = [&](auto& fields) {
    for (auto& v : fields) packed.push_back(v);
  };
  std::array<std::uint64_t*, 11> scalars = {&stats.rows,
                                            &stats.duplicate_rows,
                                            &stats.empty_code_rows,
                                            &stats.empty_brand_rows,
                                            &stats.zero_price_rows,
                                            &stats.users,
                                            &stats.sessions,
                                            &stats.session_rows_sum,
                                            &stats.duration_sum,
                                            &stats.future_purchases,
                                            &local_dirty};
  for (auto* p : scalars) packed.push_back(*p);
  pack(stats.type_rows);
  pack(stats.archetype_users);
  pack(stats.dirty);
  pack(stats.month_rows);
  pack(stats.session_hist);
  pack(stats.duration_hist);
  comm.allreduce_sum(std::span<std::uint64_t>(packed));
  std::size_t k = 0;
  for (auto* p : scalars) *p = packed[k++];
  auto unpack = [&](auto& fields) {
    for (auto& v : fields) v = packed[k++];
  };
  unpack(stats.type_rows);
  unpack(stats.archetype_users);
  unpack(stats.dirty);
  unpack(stats.month_rows);
  unpack(stats.session_hist);
  unpack(stats.duration_hist);
  stats.price_min_cents = comm.allreduce_min(stats.price_min_cents);
  stats.price_max_cents = comm.allreduce_max(stats.price_max_cents);
  comm.allreduce_max(std::span<std::uint8_t>(stats.product_seen));
  std::uint64_t products_seen = 0;
  for (auto s : stats.product_seen) products_seen += s;

  // ---- truth: dirty.csv and summary.json (rank 0's text) ----
  {
    std::string dirty_csv, summary;
    if (rank == 0) {
      dirty_csv = "reason,count\n";
      for (int d = 0; d < kDirtyKinds; ++d) {
        dirty_csv += kDirtyNames[static_cast<std::size_t>(d)];
        dirty_csv += ',';
        append_uint(dirty_csv, stats.dirty[static_cast<std::size_t>(d)]);
        dirty_csv += '\n';
      }
      summary = summary_json(*model, opts, stats, products_seen);
    }
    par::write_ordered(comm, (out_dir / "truth" / "dirty.csv").string(), dirty_csv);
    par::write_ordered(comm, (out_dir / "truth" / "summary.json").string(), summary);
  }

  // ---- log: what was written, the realised marginals, the rate ----
  const double my_rate = gen_s > 0 ? static_cast<double>(my_lines) / gen_s : 0.0;
  const double rate_min = comm.allreduce_min(u_end > u_begin ? my_rate : 1e300);
  const double rate_max = comm.allreduce_max(my_rate);
  const int busy = comm.allreduce_sum(u_end > u_begin ? 1 : 0);
  const double rate_avg = comm.allreduce_sum(my_rate) / std::max(1, busy);
  const auto& tg = model->preset().targets;
  ctx.log.info("synth: wrote ", stats.rows, " rows + ", local_dirty, " dirty rows in ", n_months,
               " file(s) under ", (out_dir / "events").string(), "; ", stats.users, " users, ",
               products_seen, " products, ", stats.sessions, " sessions, ", stats.future_purchases,
               " future purchases");
  ctx.log.info("synth: rate ", human_count(rate_avg), " rows/s per rank (min ",
               human_count(busy ? rate_min : 0.0), ", max ", human_count(rate_max), ", ", busy,
               " ranks with users), generation and formatting",
               opts.gzip ? " and compression" : "");
  auto pct = [](double v) { return fixed(100.0 * v, 2) + "%"; };
  ctx.log.info("synth: view/cart/remove/purchase ", pct(share(stats.type_rows[0], stats.rows)), "/",
               pct(share(stats.type_rows[1], stats.rows)), "/",
               pct(share(stats.type_rows[2], stats.rows)), "/",
               pct(share(stats.type_rows[3], stats.rows)), " (targets ", pct(tg.type_share[0]), "/",
               pct(tg.type_share[1]), "/", pct(tg.type_share[2]), "/", pct(tg.type_share[3]), ")");
  ctx.log.info("synth: users/products/sessions per row ", pct(share(stats.users, stats.rows)), "/",
               pct(share(products_seen, stats.rows)), "/", pct(share(stats.sessions, stats.rows)),
               " (targets ", pct(tg.users_per_event), "/", pct(tg.products_per_event), "/",
               pct(tg.sessions_per_event), "); empty category_code/brand ",
               pct(share(stats.empty_code_rows, stats.rows)), "/",
               pct(share(stats.empty_brand_rows, stats.rows)), "; rows per session mean ",
               fixed(share(stats.session_rows_sum, stats.sessions), 2), " median ",
               SynthStats::quantile(stats.session_hist, 0.5), " p75 ",
               SynthStats::quantile(stats.session_hist, 0.75), "; session duration median ",
               SynthStats::quantile(stats.duration_hist, 0.5), " s mean ",
               fixed(share(stats.duration_sum, stats.sessions) / 60.0, 1), " min");
  if (opts.dirty > 0) {
    std::string kinds;
    for (int d = 0; d < kDirtyKinds; ++d)
      kinds += std::string(d ? ", " : "") + std::string(kDirtyNames[static_cast<std::size_t>(d)]) +
               " " + std::to_string(stats.dirty[static_cast<std::size_t>(d)]);
    ctx.log.info("synth: dirty rows: ", kinds);
  }
  return stats;
}

}  // namespace ecom::synth
