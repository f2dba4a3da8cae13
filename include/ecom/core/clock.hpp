#pragma once
// Wall-clock time as text, for run times and manifests.
#include <string>

namespace ecom {

// Current time as ISO 8601 UTC, "YYYY-MM-DDTHH:MM:SSZ".
std::string utc_now_iso();

// True when `s` has the form "YYYY-MM-DDTHH:MM:SSZ" (digits where digits belong).
bool valid_iso_utc(const std::string& s);

}  // namespace ecom
