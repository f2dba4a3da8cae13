#pragma once
// Writing one CSV field, RFC 4180 style: the one quoting rule of every CSV file ecom writes
// (warehouse files, profiles, the quarantine). Header-only so that every module may use it.
#include <string>
#include <string_view>

namespace ecom::io {

// Appends `value` to `out`, in double quotes (inner quotes doubled) if it holds a comma, a
// quote, CR or LF; unchanged otherwise.
inline void append_csv_field(std::string& out, std::string_view value) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += value;
    return;
  }
  out += '"';
  for (const char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

// The field as append_csv_field writes it.
inline std::string csv_field(std::string_view value) {
  std::string out;
  append_csv_field(out, value);
  return out;
}

}  // namespace ecom::io
