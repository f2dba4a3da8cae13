#pragma once
// Retention and erasure: `ecom purge` and `ecom forget`.
//
// purge: the retention policy. Processed data (the pseudonymised event store and run
// directories) is kept `processed_days`; raw-zone data (quarantine files: rejected input rows
// with raw user ids) `raw_days`.
//   - A store partition goes when its newest event is older than processed_days.
//   - A run directory (a directory under --runs holding run.json) goes when its run time
//     (run.json "run_time", the updated_at of its outputs) is older than processed_days; its
//     raw-zone files (*.quarantine.csv) go when that time is older than raw_days.
//   - A row of the store's quarantine goes when the file it came from was ingested (manifest
//     ingest_time) more than raw_days ago, or when that file's partition goes.
// The store is rewritten into a fresh file (the removed bytes do not survive in it), its
// /profile group is dropped (it described the removed data: run `ecom profile` again), and an
// audit record (action, time, counts; never an identifier) is added to its manifest.
//
// forget: the right to erasure. Removes every event of the person's pseudonym (computed from
// the raw id with the key) from the store, and every quarantine row that holds the raw id as a
// field, then records the erasure in the manifest: time, counts and an optional request
// reference, never the raw id or the pseudonym.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ecom {
struct Context;
}

namespace ecom::pipeline {

struct PurgeOptions {
  std::string store;       // "" = no store
  std::string quarantine;  // "" = the store's default (X.h5 -> X.quarantine.csv)
  std::string runs;        // "" = no run directories
  int raw_days = 90;
  int processed_days = 730;
  bool dry_run = false;
  std::string now;  // ISO 8601 UTC "YYYY-MM-DDTHH:MM:SSZ"; "" = the clock
};

struct ForgetOptions {
  std::string store;
  std::string quarantine;  // "" = the store's default
  std::string key_file;
  std::vector<std::string> user_ids;  // raw ids (one request may name several accounts)
  std::string user_id_file;           // more raw ids, one per line (argv is visible to others)
  std::string request;  // the request's reference (ticket number), recorded; no personal data
  bool dry_run = false;
};

// What purge or forget did (or would do, with dry_run); the same on every rank.
struct RetentionReport {
  std::vector<int> partitions_dropped;
  std::uint64_t events_removed = 0;
  std::uint64_t quarantine_rows_removed = 0;
  std::vector<std::string> runs_removed;       // run directories removed
  std::vector<std::string> raw_files_removed;  // quarantine files of kept run directories
};

// Collective. Applies the retention policy; logs every item that goes.
RetentionReport run_purge(Context& ctx, const PurgeOptions& opts);
// Collective. Erases the events of the given people.
RetentionReport run_forget(Context& ctx, const ForgetOptions& opts);

// ---- pure helpers, exposed for tests ------------------------------------------------------------

// "YYYY-MM-DDTHH:MM:SSZ" -> seconds since the epoch; -1 if malformed.
std::int64_t parse_iso_utc(std::string_view s);
// True if data whose newest time is `newest` is older than `days` at `now` (strictly).
bool expired(std::int64_t newest, std::int64_t now, int days);
// The fields of one CSV record (RFC 4180: quoted fields, doubled quotes).
std::vector<std::string> split_csv_record(std::string_view record);
// Splits CSV text into records (a newline inside quotes does not end a record); each record
// without its line end.
std::vector<std::string_view> csv_records(std::string_view text);
// The value of a top-level string member of a small JSON object ("" if absent).
std::string json_string_member(std::string_view json, std::string_view name);

}  // namespace ecom::pipeline
