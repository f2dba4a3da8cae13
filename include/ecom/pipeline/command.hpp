#pragma once
// How a subcommand plugs into main.cpp: it adds its CLI11 subcommand and options, and when
// selected sets `action` to the function that runs it.
#include <functional>

namespace CLI {
class App;
}

namespace ecom {
struct Context;
using Action = std::function<int(Context&)>;
}  // namespace ecom
