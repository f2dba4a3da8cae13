// Block layout on the wire: three uint64 (source, first line index, bytes of lines), then the
// lines, each ended by '\n'.
#include "ecom/par/line_share.hpp"

#include <cstring>

#include "ecom/par/comm.hpp"

namespace ecom::par {

LineShare::LineShare(int ranks, int rank, std::size_t cap)
    : rank_(rank),
      cap_(cap),
      out_(static_cast<std::size_t>(ranks)),
      hungry_(static_cast<std::size_t>(ranks), true) {}

int LineShare::next_taker() {
  const auto p = out_.size();
  for (std::size_t k = 1; k <= p; ++k) {
    const std::size_t r = (cursor_ + k) % p;
    if (static_cast<int>(r) == rank_ || (hungry_[r] && out_[r].size() < cap_)) {
      cursor_ = r;
      return static_cast<int>(r);
    }
  }
  return rank_;
}

bool LineShare::others_served() const {
  bool any = false;
  for (std::size_t r = 0; r < out_.size(); ++r) {
    if (static_cast<int>(r) == rank_ || !hungry_[r]) continue;
    if (out_[r].size() < cap_) return false;
    any = true;
  }
  return any;
}

void LineShare::begin_block(int dest, std::uint32_t source, std::uint64_t first_line) {
  std::string& o = out_[static_cast<std::size_t>(dest)];
  open_ = o.size();
  const std::uint64_t head[3] = {source, first_line, 0};
  o.append(reinterpret_cast<const char*>(head), sizeof head);
}

void LineShare::add_line(int dest, std::string_view line) {
  std::string& o = out_[static_cast<std::size_t>(dest)];
  o.append(line);
  o.push_back('\n');
  std::uint64_t bytes = 0;
  std::memcpy(&bytes, o.data() + open_ + 16, 8);
  bytes += line.size() + 1;
  std::memcpy(o.data() + open_ + 16, &bytes, 8);
}

bool LineShare::outgoing() const {
  for (const auto& o : out_)
    if (!o.empty()) return true;
  return false;
}

void LineShare::exchange(Comm& comm, std::size_t budget) {
  std::vector<std::uint64_t> counts(out_.size()), displs(out_.size());
  std::string packed;
  for (std::size_t r = 0; r < out_.size(); ++r) {
    counts[r] = out_[r].size();
    displs[r] = packed.size();
    packed += out_[r];
    out_[r].clear();
  }
  in_.erase(0, pos_);
  pos_ = 0;
  // Hungry: it parsed (nearly) all it had before this round's blocks arrive, so it can take
  // another block while it parses these (two blocks in flight at most).
  const std::vector<std::uint64_t> left = comm.allgather<std::uint64_t>(in_.size());
  for (std::size_t r = 0; r < out_.size(); ++r) hungry_[r] = left[r] < cap_ / 2;
  // The blocks land straight after what is left to parse.
  comm.exchange_into<char>(packed.data(), counts, displs, budget, [&](std::uint64_t n) {
    const std::size_t old = in_.size();
    in_.resize(old + n);
    return in_.data() + old;
  });
}

bool LineShare::next(std::uint32_t& source, std::uint64_t& index, std::string_view& line) {
  if (pos_ >= in_.size()) return false;
  if (left_ == 0) {  // a block header
    std::uint64_t head[3];
    std::memcpy(head, in_.data() + pos_, sizeof head);
    pos_ += sizeof head;
    source_ = static_cast<std::uint32_t>(head[0]);
    line_ = head[1];
    left_ = head[2];
  }
  const char* start = in_.data() + pos_;
  const auto* nl = static_cast<const char*>(std::memchr(start, '\n', left_));
  const auto len = static_cast<std::size_t>(nl - start);
  line = std::string_view(start, len);
  source = source_;
  index = line_++;
  pos_ += len + 1;
  left_ -= len + 1;
  return true;
}

}  // namespace ecom::par
