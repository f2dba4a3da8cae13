// `ecom pseudonymize`: raw user ids on standard input -> pseudonyms, one per line.
#include <CLI/CLI.hpp>
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

int run_pseudonymize(Context& ctx, const PseudonymizeOptions& opts) {
  std::string error;
  std::string key;
  try {
    key = privacy::read_key_file(opts.key_file);
  } catch (const Error& e) {
    error = e.what();
  }
  par::agree(ctx.comm, error, ExitCode::usage);
  if (ctx.comm.rank() != 0) return 0;  // a serial filter: rank 0 reads stdin
  privacy::Pseudonymizer p(std::move(key));
  std::string line;
  std::string out;
  while (std::getline(std::cin, line)) {
    out += privacy::to_hex(p.pseudonym(line));
    out += '\n';
    if (out.size() > (1 << 16)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  return 0;
}
}  // namespace

void add_pseudonymize_command(CLI::App& app, Action& action) {
  auto opts = std::make_shared<PseudonymizeOptions>();
  auto* sub = app.add_subcommand(
      "pseudonymize",
      "Raw user ids on stdin (one per line) -> pseudonyms: HMAC-SHA-256 with the key file, first "
      "8 bytes as 16 hex digits (the function used at ingest)");
  sub->add_option("--key-file", opts->key_file, "Secret key file (mode 0600 or stricter)")
      ->required();
  sub->callback(
      [opts, &action] { action = [opts](Context& ctx) { return run_pseudonymize(ctx, *opts); }; });
}

}  // namespace ecom
