// LogRecord: one entry of the append-only event log, and its on-disk bytes.
//
// The canonical bytes of a record are what its hash covers; the stored value
// is canonical ‖ prev_hash ‖ hash. docs/event-log.md describes the format
// precisely enough to check the chain with any SHA-256 tool. Plain value type,
// no shared state.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "store/status.h"

namespace noxsync {

using Hash = std::array<uint8_t, 32>;

inline constexpr uint8_t kRecordFormatVersion = 1;

struct LogRecord {
  uint64_t seq = 0;
  int64_t time_us = 0;   // when noxsync appended it, microseconds since the Unix epoch (UTC)
  std::string type;      // "event.received", "incident.opened", ... (docs/event-log.md)
  std::string incident;  // incident id, empty when the record concerns none
  std::string payload;   // JSON text, type-specific
  Hash prev_hash{};      // hash of record seq-1; all zero for seq 1
  Hash hash{};           // SHA-256(prev_hash ‖ canonical bytes)
};

// The bytes the hash covers: version, seq, time, type, incident, payload.
std::string CanonicalBytes(const LogRecord& r);

// SHA-256(prev_hash ‖ CanonicalBytes(r)).
Hash ComputeHash(const LogRecord& r);
// SHA-256 of first ‖ second, with the algorithm fetched once and a context
// per thread (OpenSSL 3 looks it up by name on every implicit use).
Hash Sha256(std::string_view first, std::string_view second = {});

// The stored value: canonical ‖ prev_hash ‖ hash.
std::string EncodeRecord(const LogRecord& r);

// Sets r->hash from r->prev_hash and the other fields and returns the stored
// value; one pass over the canonical bytes (the append path).
std::string SealRecord(LogRecord* r);

// Parses a stored value. Fails with Corruption when the bytes are not a
// well-formed record; does not check the hash (see VerifyChain).
Status DecodeRecord(std::string_view value, LogRecord* out);

// The type of a stored value without decoding the rest; empty when the bytes
// are not a well-formed record's start (DecodeRecord then says why).
std::string_view PeekRecordType(std::string_view value);

std::string HashHex(const Hash& h);

// Big-endian seq keys so RocksDB's byte order is seq order.
std::string SeqKey(uint64_t seq);
uint64_t SeqFromKey(std::string_view key);

}  // namespace noxsync
