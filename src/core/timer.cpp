#include "ecom/core/timer.hpp"

#include "ecom/core/error.hpp"

namespace ecom {

std::string Timers::nested_path(const std::string& name) const {
  return open_.empty() ? name : entries_[open_.back().first].path + "/" + name;
}

std::size_t Timers::start(const std::string& name) {
  std::string path = nested_path(name);
  std::size_t index = entries_.size();
  for (std::size_t i = 0; i < entries_.size(); ++i)
    if (entries_[i].path == path) index = i;
  if (index == entries_.size()) entries_.push_back(Entry{path, 0.0, 0, ""});
  open_.emplace_back(index, std::chrono::steady_clock::now());
  return index;
}

void Timers::stop(std::size_t index) {
  if (open_.empty() || open_.back().first != index)
    throw Error("Timers::stop: not the innermost timer");
  const auto elapsed = std::chrono::steady_clock::now() - open_.back().second;
  entries_[index].seconds += std::chrono::duration<double>(elapsed).count();
  open_.pop_back();
}

void Timers::add_items(const std::string& path, std::uint64_t items, const std::string& unit) {
  for (auto& e : entries_)
    if (e.path == path) {
      e.items += items;
      e.unit = unit;
      return;
    }
  entries_.push_back(Entry{path, 0.0, items, unit});
}

double Timers::seconds(const std::string& path) const {
  for (const auto& e : entries_)
    if (e.path == path) return e.seconds;
  return 0.0;
}

}  // namespace ecom
