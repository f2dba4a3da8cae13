#pragma once
// Line sharing: a protocol by which ranks that decode text faster than they can parse it (one
// rank per gzip file) hand blocks of whole lines to other ranks to parse. Blocks travel in
// collective rounds (exchange()); each block carries its source (a file index) and the index of
// its first line, so a receiver knows where every line came from.
//
// Flow control: a rank that still held at least half a block's worth of unparsed text from
// earlier rounds when a round's blocks arrived is sent nothing in the next round (at most two
// blocks in flight per receiver).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ecom::par {

class Comm;

class LineShare {
 public:
  static constexpr std::uint64_t kGroupLines = 256;  // lines per block

  // `cap`: bytes of blocks a sender holds for one receiver per round (a block may pass it by its
  // last group of lines).
  LineShare(int ranks, int rank, std::size_t cap);

  // ---- a sender: which rank parses the next group of lines, and the blocks -----------------
  // The next rank in rotation that is this rank or a hungry rank with room; this rank if none.
  int next_taker();
  // True when every rank that was hungry at the start of the round has a full block: the round
  // should end so that they get it.
  bool others_served() const;
  // Opens a block for `dest`: lines of source `source` from line index `first_line` on.
  void begin_block(int dest, std::uint32_t source, std::uint64_t first_line);
  // Adds a line (without its '\n') to the open block for `dest`.
  void add_line(int dest, std::string_view line);
  // True when blocks wait to be sent.
  bool outgoing() const;

  // Collective: ships the blocks, keeps what arrives, learns who is hungry. `budget` bounds the
  // bytes of one all-to-all round. A sender calls it only between blocks (after the last line of
  // a group of kGroupLines, or at the end of its source), never with a block half filled.
  void exchange(Comm& comm, std::size_t budget);

  // ---- every rank: the lines it received ---------------------------------------------------
  bool queued() const { return pos_ < in_.size(); }
  // The next received line with its source and line index; false when none is left. The view
  // stays valid until the next exchange().
  bool next(std::uint32_t& source, std::uint64_t& index, std::string_view& line);

 private:
  int rank_;
  std::size_t cap_;
  std::vector<std::string> out_;
  std::vector<bool> hungry_;
  std::size_t cursor_ = 0, open_ = 0;
  std::string in_;
  std::size_t pos_ = 0;
  std::uint64_t left_ = 0, line_ = 0;
  std::uint32_t source_ = 0;
};

}  // namespace ecom::par
