#pragma once
// The effective configuration of a parsed command line, as canonical TOML (stored in run.json,
// ecom.h5 and hashed by the checkpoint): one `key=value` line per configurable option, the
// options of subcommand `x` as `x.key=value`. The text depends only on the values in effect,
// not on how they were given: `--config configs/default.toml` gives the same text as no file,
// 1.0 and 1 for a number give the same text, 1 and true for a boolean, and a list default
// equals the same list written in a config file.
#include <string>

namespace CLI {
class App;
}

namespace ecom {

// Canonical forms: booleans true/false; INT and UINT options as integers; FLOAT options in the
// shortest form that reads back to the same double (%g style); strings quoted; options that take
// several values as [a, b] (also with one value, [] with none); any other option with no value
// and no default as "".
std::string effective_config(const CLI::App& app);

}  // namespace ecom
