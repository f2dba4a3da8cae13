#include "ecom/core/config.hpp"

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

namespace ecom {
namespace {

bool type_is(const CLI::Option& opt, const std::string& type) {
  const std::string t = opt.get_type_name();
  return t.rfind(type, 0) == 0 &&
         (t.size() == type.size() || t[type.size()] == ':' || t[type.size()] == ' ');
}

bool is_boolean(const CLI::Option& opt) {
  return opt.get_expected_min() == 0 || type_is(opt, "BOOLEAN");
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + '"';
}

// One value in canonical form; anything that does not read as its option's type stays a string.
std::string canonical(const CLI::Option& opt, const std::string& v) {
  if (is_boolean(opt)) {
    if (v == "1" || v == "true" || v == "on" || v == "yes" || v == "+1") return "true";
    if (v == "0" || v == "false" || v == "off" || v == "no" || v == "-1") return "false";
  } else if (type_is(opt, "INT") || type_is(opt, "UINT")) {
    char* end = nullptr;
    if (type_is(opt, "INT")) {
      const long long x = std::strtoll(v.c_str(), &end, 10);
      if (!v.empty() && *end == '\0') return std::to_string(x);
    } else {
      const unsigned long long x = std::strtoull(v.c_str(), &end, 10);
      if (!v.empty() && v[0] != '-' && *end == '\0') return std::to_string(x);
    }
  } else if (type_is(opt, "FLOAT")) {
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (!v.empty() && *end == '\0') {
      char buf[64];
      const auto r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::general);
      return std::string(buf, r.ptr);
    }
  }
  return quoted(v);
}

// The values in effect: given (command line or config file), else the default.
std::vector<std::string> values(const CLI::Option& opt, bool& listed) {
  listed = opt.get_items_expected_max() > 1;
  std::vector<std::string> v = opt.reduced_results();
  if (!v.empty()) return v;
  std::string d = opt.get_default_str();
  if (listed && d.size() >= 2 && d.front() == '[' && d.back() == ']') {
    std::istringstream is(d.substr(1, d.size() - 2));
    for (std::string item; std::getline(is, item, ',');) v.push_back(item);
    return v;
  }
  if (!d.empty()) return {d};
  if (opt.get_expected_min() == 0) return {"false"};
  return {};
}

void write(const CLI::App& app, const std::string& prefix, std::ostringstream& out) {
  for (const CLI::Option* opt : app.get_options({})) {
    if (!opt->get_configurable()) continue;
    bool listed = false;
    const auto v = values(*opt, listed);
    std::string text;
    if (v.empty()) {
      text = listed ? "[]" : "\"\"";
    } else if (!listed && v.size() == 1) {
      text = canonical(*opt, v[0]);
    } else {
      text = "[";
      for (std::size_t i = 0; i < v.size(); ++i) text += (i ? ", " : "") + canonical(*opt, v[i]);
      text += "]";
    }
    out << prefix << opt->get_single_name() << '=' << text << '\n';
  }
  for (const CLI::App* sub : app.get_subcommands({}))
    write(*sub, sub->get_name().empty() ? prefix : prefix + sub->get_name() + ".", out);
}

}  // namespace

std::string effective_config(const CLI::App& app) {
  std::ostringstream out;
  write(app, "", out);
  return out.str();
}

}  // namespace ecom
