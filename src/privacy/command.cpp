// `ecom pseudonymize`: raw user ids on standard input -> pseudonyms, one per line.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "ecom/core/context.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/pipeline/commands.hpp"
#include "ecom/privacy/pseudonym.hpp"

namespace ecom {

namespace {
struct PseudonymizeOptions {
  std::string key_file;
};

// The serial filter (rank 0): "" or the error (a line that is not a user id: the output ends
// before it).
std::string pseudonymize_stdin(const privacy::Pseudonymizer& p) {
  std::string line;
  std::string out;
  for (std::uint64_t n = 1; std::getline(std::cin, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!privacy::canonical_user_id(line)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      std::fflush(stdout);
      return "pseudonymize: standard input line " + std::to_string(n) + ": '" + line.substr(0, 40) +
             "' is not a user id (a plain decimal integer below 2^64; bad_user_id)";
    }
    out += privacy::to_hex(p.pseudonym(line));
    out += '\n';
    if (out.size() > (1 << 16)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  return "";
}

int run_pseudonymize(Context& ctx, const PseudonymizeOptions& opts) {
  std::string error;
  std::string key;
  try {
    key = privacy::read_key_file(opts.key_file);
  } catch (const Error& e) {
    error = e.what();
  }
  par::agree(ctx.comm, error, ExitCode::usage);
  if (ctx.comm.rank() == 0) error = pseudonymize_stdin(privacy::Pseudonymizer(std::move(key)));
  par::agree(ctx.comm, error, ExitCode::input);  // every rank ends with rank 0's verdict
  return 0;
}
}  // namespace

void add_pseudonymize_command(CLI::App& app, Action& action) {
  auto opts = std::make_shared<PseudonymizeOptions>();
  auto* sub = app.add_subcommand(
      "pseudonymize",
      "Raw user ids on stdin (one per line) -> pseudonyms: HMAC-SHA-256 with the key file of the "
      "canonical id (leading zeros removed), first 8 bytes as 16 hex digits (the function used "
      "at ingest); a line that is not a plain decimal integer is an error (exit 3)");
  sub->add_option("--key-file", opts->key_file, "Secret key file (mode 0600 or stricter)")
      ->required();
  sub->callback(
      [opts, &action] { action = [opts](Context& ctx) { return run_pseudonymize(ctx, *opts); }; });
}

}  // namespace ecom
