// Who reads what: byte-range splitting and whole-file assignment; line readers over byte ranges
// (every line read exactly once for many rank counts and chunk sizes); gzip reading including
// multi-member files and the fatal errors for truncated and corrupt data.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "ecom/core/error.hpp"
#include "ecom/io/gzip.hpp"
#include "ecom/io/input.hpp"

using namespace ecom;
using namespace ecom::io;

namespace {
std::filesystem::path temp_dir() {
  return std::filesystem::temp_directory_path() /
         ("ecom_test_io_input_" + std::to_string(::getpid()));
}
std::string temp_path(const std::string& name) {
  std::filesystem::create_directories(temp_dir());
  return (temp_dir() / name).string();
}
class RemoveTempDir : public testing::Environment {
 public:
  void TearDown() override { std::filesystem::remove_all(temp_dir()); }
};
[[maybe_unused]] testing::Environment* const kCleanup =
    testing::AddGlobalTestEnvironment(new RemoveTempDir);

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// Reference: the lines of a text, split independently (std::getline), '\r' stripped.
std::vector<std::string> reference_lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return out;
}

std::string gzip_bytes(const std::string& text, int level = 6) {
  // One gzip member via deflateInit2 with the gzip wrapper.
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, text.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.avail_in = static_cast<uInt>(text.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string random_text(std::mt19937_64& rng, std::size_t lines, bool crlf, bool final_newline) {
  std::string text;
  for (std::size_t i = 0; i < lines; ++i) {
    const std::size_t len = rng() % 5 == 0 ? 0 : rng() % 90;  // some empty lines
    for (std::size_t k = 0; k < len; ++k) text += static_cast<char>('a' + rng() % 26);
    text += '#';
    text.append(std::to_string(i));
    if (i + 1 < lines || final_newline) text += crlf && rng() % 2 ? "\r\n" : "\n";
  }
  return text;
}

std::string read_all(const std::string& path, std::size_t chunk) {
  GzipReader r(path, chunk);
  std::string out;
  std::vector<char> buf(chunk);
  while (std::size_t n = r.read(buf.data(), buf.size())) out.append(buf.data(), n);
  return out;
}
}  // namespace

TEST(Input, SplitBytesCoversEverythingOnce) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<std::uint64_t> sizes(1 + rng() % 5);
    for (auto& s : sizes) s = rng() % 4 == 0 ? 0 : rng() % 1000;
    const std::uint64_t total = std::accumulate(sizes.begin(), sizes.end(), std::uint64_t{0});
    const int ranks = 1 + static_cast<int>(rng() % 9);
    std::vector<std::uint64_t> covered(sizes.size(), 0);
    std::uint64_t global = 0;
    for (int r = 0; r < ranks; ++r) {
      const auto pieces = split_bytes(sizes, ranks, r);
      std::uint64_t mine = 0;
      for (const auto& p : pieces) {
        ASSERT_LT(p.begin, p.end);
        ASSERT_LE(p.end, sizes[p.file]);
        ASSERT_EQ(p.begin, covered[p.file]) << "pieces of a file are contiguous, in rank order";
        covered[p.file] = p.end;
        mine += p.end - p.begin;
      }
      // Rank r's share is [r*S/P, (r+1)*S/P).
      EXPECT_EQ(mine,
                total * static_cast<std::uint64_t>(r + 1) / static_cast<std::uint64_t>(ranks) -
                    total * static_cast<std::uint64_t>(r) / static_cast<std::uint64_t>(ranks));
      global += mine;
    }
    EXPECT_EQ(global, total);
    for (std::size_t f = 0; f < sizes.size(); ++f) EXPECT_EQ(covered[f], sizes[f]);
  }
}

TEST(Input, WholeFilesLargestFirst) {
  const std::vector<std::uint64_t> sizes = {10, 50, 30, 30, 5};
  const auto owner = assign_whole_files(sizes, 2);
  // 50 -> r0; 30 (file 2) -> r1; 30 (file 3) -> r1 (30 < 50); 10 -> r0 (50 < 60); 5 -> r0 (60 = 60,
  // fewer files? r0 has 2, r1 2 -> lower rank)
  EXPECT_EQ(owner, (std::vector<int>{0, 0, 1, 1, 0}));
  EXPECT_EQ(assign_whole_files(sizes, 1), (std::vector<int>(5, 0)));
  const auto five = assign_whole_files(sizes, 8);
  std::vector<int> sorted = five;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "one file per rank";
}

TEST(Input, EveryLineReadOnceForAnyRanksAndChunks) {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 40; ++trial) {
    // Several "files", concatenated for the split like the ingest does.
    std::vector<std::string> texts;
    const std::size_t nfiles = 1 + rng() % 3;
    for (std::size_t f = 0; f < nfiles; ++f) {
      std::string t = random_text(rng, rng() % 60, trial % 2 == 1, rng() % 2 == 0);
      if (f == 0 && trial % 3 == 0) t = "\xEF\xBB\xBF" + t;  // BOM: part of line 1's bytes
      texts.push_back(t);
    }
    std::vector<std::uint64_t> sizes;
    for (const auto& t : texts) sizes.push_back(t.size());
    for (int ranks = 1; ranks <= 7; ++ranks) {
      for (std::size_t chunk : {16u, 17u, 33u, 100u, 4096u}) {
        std::vector<std::vector<std::string>> got(nfiles);
        for (int r = 0; r < ranks; ++r) {
          for (const auto& piece : split_bytes(sizes, ranks, r)) {
            const std::uint64_t start = piece.begin > 0 ? piece.begin - 1 : 0;
            LineReader reader(std::make_unique<StringSource>(texts[piece.file], start), chunk,
                              piece.begin > 0, piece.end - start);
            std::string_view line;
            while (reader.next(line)) got[piece.file].emplace_back(line);
          }
        }
        for (std::size_t f = 0; f < nfiles; ++f)
          ASSERT_EQ(got[f], reference_lines(texts[f]))
              << "trial " << trial << " ranks " << ranks << " chunk " << chunk << " file " << f;
      }
    }
  }
}

TEST(Input, LongLinesGrowTheBuffer) {
  std::string text =
      std::string(10000, 'x') + "\n" + std::string(5, 'y') + "\r\n" + std::string(3000, 'z');
  LineReader reader(std::make_unique<StringSource>(text), 16);
  std::vector<std::string> got;
  std::string_view line;
  while (reader.next(line)) got.emplace_back(line);
  EXPECT_EQ(got, reference_lines(text));
  EXPECT_EQ(reader.lines(), 3u);
}

TEST(Input, RangeReaderOnAFile) {
  std::mt19937_64 rng(3);
  const std::string text = random_text(rng, 500, true, true);
  const std::string path = temp_path("plain.csv");
  write_file(path, text);
  for (int ranks : {1, 2, 3, 5}) {
    std::vector<std::string> got;
    const std::vector<std::uint64_t> sizes = {text.size()};
    for (int r = 0; r < ranks; ++r)
      for (const auto& piece : split_bytes(sizes, ranks, r)) {
        auto reader = open_range(path, piece, 64);
        std::string_view line;
        while (reader->next(line)) got.emplace_back(line);
      }
    EXPECT_EQ(got, reference_lines(text)) << ranks;
  }
}

// Every gzip test runs with each decoder: zlib, and ISA-L where it is available.
class Gzip : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "zlib") {
      ::setenv("ECOM_GZIP", "zlib", 1);
    } else {
      ::unsetenv("ECOM_GZIP");
      if (gzip_backend() != GetParam()) GTEST_SKIP() << GetParam() << " is not available here";
    }
    ASSERT_EQ(gzip_backend(), GetParam());
  }
  void TearDown() override { ::unsetenv("ECOM_GZIP"); }
};
INSTANTIATE_TEST_SUITE_P(Decoders, Gzip, testing::Values("zlib", "isa-l"));

TEST_P(Gzip, SingleAndMultiMember) {
  std::mt19937_64 rng(5);
  const std::string a = random_text(rng, 3000, false, true);
  const std::string b = random_text(rng, 2000, true, false);
  const std::string one = temp_path("one.gz"), two = temp_path("two.gz");
  write_file(one, gzip_bytes(a));
  write_file(two, gzip_bytes(a) + gzip_bytes(b, 1));
  for (std::size_t chunk : {7u, 100u, 1u << 16}) {
    EXPECT_EQ(read_all(one, chunk), a);
    EXPECT_EQ(read_all(two, chunk), a + b);
  }
  auto reader = open_gzip(two, 1000);
  std::vector<std::string> got;
  std::string_view line;
  while (reader->next(line)) got.emplace_back(line);
  EXPECT_EQ(got, reference_lines(a + b));
  // Trailing zero padding is ignored, as gzip does.
  const std::string padded = temp_path("padded.gz");
  write_file(padded, gzip_bytes(a) + std::string(100, '\0'));
  EXPECT_EQ(read_all(padded, 64), a);
}

TEST_P(Gzip, TruncatedAndCorruptAreInputErrors) {
  std::mt19937_64 rng(9);
  const std::string text = random_text(rng, 5000, false, true);
  const std::string gz = gzip_bytes(text);
  const std::string truncated = temp_path("truncated.gz");
  write_file(truncated, gz.substr(0, gz.size() / 2));
  try {
    read_all(truncated, 4096);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "input file " + truncated + ": truncated gzip data");
    EXPECT_EQ(e.code(), ExitCode::input);
  }
  // Cut inside the 8-byte trailer: also truncated.
  write_file(truncated, gz.substr(0, gz.size() - 3));
  EXPECT_THROW(read_all(truncated, 4096), InputError);

  std::string bad = gz;
  for (std::size_t i = bad.size() / 3; i < bad.size() / 3 + 64; ++i)
    bad[i] = static_cast<char>(bad[i] ^ 0x5a);
  const std::string corrupt = temp_path("corrupt.gz");
  write_file(corrupt, bad);
  try {
    read_all(corrupt, 4096);
    FAIL() << "no error";
  } catch (const InputError& e) {
    const std::string prefix = "input file " + corrupt + ": corrupt gzip data (";
    EXPECT_EQ(std::string(e.what()).substr(0, prefix.size()), prefix) << e.what();
  }
  // A bad CRC (last member's trailer).
  std::string crc = gz;
  crc[crc.size() - 6] = static_cast<char>(crc[crc.size() - 6] ^ 1);
  write_file(corrupt, crc);
  try {
    read_all(corrupt, 4096);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()),
              "input file " + corrupt + ": corrupt gzip data (incorrect data check)");
  }
  // Plain text named .gz.
  const std::string notgz = temp_path("plain.gz");
  write_file(notgz, text);
  try {
    read_all(notgz, 4096);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()),
              "input file " + notgz + ": corrupt gzip data (incorrect header check)");
  }
  // Garbage after a complete member.
  write_file(corrupt, gz + "garbage");
  try {
    read_all(corrupt, 4096);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(
        std::string(e.what()),
        "input file " + corrupt + ": corrupt gzip data (trailing garbage after a gzip member)");
  }
  // Missing file.
  try {
    GzipReader r(temp_path("missing.gz"));
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()),
              "input file " + temp_path("missing.gz") + ": cannot open: No such file or directory");
  }
}

TEST_P(Gzip, EmptyFileAndEmptyMember) {
  const std::string empty = temp_path("empty.gz");
  write_file(empty, "");
  EXPECT_EQ(read_all(empty, 64), "");
  write_file(empty, gzip_bytes(""));
  EXPECT_EQ(read_all(empty, 64), "");
}

TEST_P(Gzip, LargeStreamInSmallChunks) {
  // Many members and large output, read with small chunks: the same bytes as the text.
  std::mt19937_64 rng(3);
  std::string text, gz;
  for (int m = 0; m < 8; ++m) {
    const std::string part = random_text(rng, 20000, m % 2 == 1, true);
    text += part;
    gz += gzip_bytes(part, 1 + m);
  }
  const std::string path = temp_path("large.gz");
  write_file(path, gz);
  for (std::size_t chunk : {1000u, 4096u, 1u << 20})
    EXPECT_EQ(read_all(path, chunk), text) << chunk;
}

// The decoder thread of GzipSource: lines in order for small blocks, errors at their point of the
// stream (after every line before them), and an early stop that does not hang.
TEST_P(Gzip, DecodedAheadLinesErrorsAndEarlyStop) {
  std::mt19937_64 rng(4);
  const std::string text = random_text(rng, 30000, true, true);
  const std::string gz = gzip_bytes(text);
  const std::string whole = temp_path("ahead.gz"), cut = temp_path("ahead_cut.gz");
  write_file(whole, gz);
  write_file(cut, gz.substr(0, gz.size() / 2));
  for (std::size_t chunk : {16u, 1000u, 1u << 16}) {
    auto reader = open_gzip(whole, chunk);
    std::vector<std::string> got;
    std::string_view line;
    while (reader->next(line)) got.emplace_back(line);
    EXPECT_EQ(got, reference_lines(text)) << chunk;
    EXPECT_EQ(reader->file_bytes_read(), gz.size());

    auto truncated = open_gzip(cut, chunk);
    std::size_t lines = 0;
    try {
      while (truncated->next(line)) ++lines;
      FAIL() << "no error";
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()), "input file " + cut + ": truncated gzip data");
    }
    EXPECT_GT(lines, 0u);
    EXPECT_LT(lines, got.size());

    auto early = open_gzip(whole, chunk);  // destroyed after one line, decoder still running
    ASSERT_TRUE(early->next(line));
    EXPECT_EQ(std::string(line), got[0]);
  }
  EXPECT_THROW(open_gzip(temp_path("no_such.gz"), 1000), InputError);
}

// Memory: the line reader's buffer stays one chunk whatever the input size; only a line longer
// than the chunk grows it (to about twice that line).
TEST(Input, BufferBoundedByChunkAndLongestLine) {
  std::mt19937_64 rng(8);
  const std::string text = random_text(rng, 200000, true, true);  // ~9 MB, lines < 100 bytes
  constexpr std::size_t kChunk = 4096;
  LineReader reader(std::make_unique<StringSource>(text), kChunk);
  std::string_view line;
  std::size_t n = 0, biggest = 0;
  while (reader.next(line)) {
    ++n;
    biggest = std::max(biggest, reader.buffer_bytes());
  }
  EXPECT_EQ(n, 200000u);
  EXPECT_GT(text.size(), 1000 * kChunk);
  EXPECT_EQ(biggest, kChunk);

  const std::string long_line(1 << 20, 'x');
  const std::string head = text.substr(0, text.find('\n', 100000) + 1);
  LineReader long_reader(std::make_unique<StringSource>(head + long_line + "\n" + text), kChunk);
  biggest = 0;
  bool seen = false;
  while (long_reader.next(line)) {
    seen = seen || line == long_line;
    biggest = std::max(biggest, long_reader.buffer_bytes());
  }
  EXPECT_TRUE(seen);
  EXPECT_GE(biggest, long_line.size());
  EXPECT_LE(biggest, 2 * long_line.size() + 2 * kChunk);
}

TEST(Input, ExpandInputs) {
  const std::string a = temp_path("x_a.csv"), b = temp_path("x_b.csv");
  write_file(a, "1");
  write_file(b, "2");
  const auto got = expand_inputs({(temp_dir() / "x_*.csv").string(), a, "/no/such/file.csv"});
  EXPECT_EQ(got, (std::vector<std::string>{a, b, "/no/such/file.csv"}));
  try {
    expand_inputs({(temp_dir() / "nothing_*.csv").string()});
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_EQ(std::string(e.what()),
              "input pattern " + (temp_dir() / "nothing_*.csv").string() + " matches no file");
  }
  EXPECT_TRUE(is_gzip_name("a.csv.gz"));
  EXPECT_FALSE(is_gzip_name("a.csv"));
}
