#include "store/record.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <cstring>

namespace noxsync {
namespace {

void PutU32(std::string* out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutU64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t GetU64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}
uint32_t GetU32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | p[i];
  return v;
}
void PutBytes(std::string* out, std::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

// Reads a length-prefixed field; false when it runs past the end.
bool GetBytes(std::string_view in, size_t* pos, std::string* out) {
  if (in.size() - *pos < 4) return false;
  uint32_t n = GetU32(reinterpret_cast<const uint8_t*>(in.data() + *pos));
  *pos += 4;
  if (in.size() - *pos < n) return false;
  out->assign(in.data() + *pos, n);
  *pos += n;
  return true;
}

}  // namespace

std::string CanonicalBytes(const LogRecord& r) {
  std::string out;
  out.reserve(1 + 8 + 8 + 12 + r.type.size() + r.incident.size() + r.payload.size() + 64);
  out.push_back(static_cast<char>(kRecordFormatVersion));
  PutU64(&out, r.seq);
  PutU64(&out, static_cast<uint64_t>(r.time_us));
  PutBytes(&out, r.type);
  PutBytes(&out, r.incident);
  PutBytes(&out, r.payload);
  return out;
}

// Fetched once, one context per thread: hashing sits on the append path.
Hash Sha256(std::string_view first, std::string_view second) {
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  struct Ctx {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Ctx() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Ctx c;
  Hash h;
  unsigned int len = 0;
  if (kSha256 == nullptr || c.ctx == nullptr || !EVP_DigestInit_ex(c.ctx, kSha256, nullptr) ||
      !EVP_DigestUpdate(c.ctx, first.data(), first.size()) ||
      !EVP_DigestUpdate(c.ctx, second.data(), second.size()) ||
      !EVP_DigestFinal_ex(c.ctx, h.data(), &len)) {
    std::abort();  // OpenSSL without SHA-256 cannot keep a chain at all
  }
  return h;
}

namespace {
Hash HashOver(const Hash& prev, std::string_view canonical) {
  return Sha256(std::string_view(reinterpret_cast<const char*>(prev.data()), prev.size()), canonical);
}
}  // namespace

Hash ComputeHash(const LogRecord& r) { return HashOver(r.prev_hash, CanonicalBytes(r)); }

std::string SealRecord(LogRecord* r) {
  std::string out = CanonicalBytes(*r);
  r->hash = HashOver(r->prev_hash, out);
  out.append(reinterpret_cast<const char*>(r->prev_hash.data()), r->prev_hash.size());
  out.append(reinterpret_cast<const char*>(r->hash.data()), r->hash.size());
  return out;
}

std::string EncodeRecord(const LogRecord& r) {
  std::string out = CanonicalBytes(r);
  out.append(reinterpret_cast<const char*>(r.prev_hash.data()), r.prev_hash.size());
  out.append(reinterpret_cast<const char*>(r.hash.data()), r.hash.size());
  return out;
}

Status DecodeRecord(std::string_view value, LogRecord* out) {
  const auto* p = reinterpret_cast<const uint8_t*>(value.data());
  if (value.size() < 1 + 8 + 8 + 12 + 64) return Status::Corruption("record too short");
  if (p[0] != kRecordFormatVersion) {
    return Status::Corruption("unknown record format version " + std::to_string(p[0]));
  }
  out->seq = GetU64(p + 1);
  out->time_us = static_cast<int64_t>(GetU64(p + 9));
  size_t pos = 17;
  std::string_view body = value.substr(0, value.size() - 64);
  if (!GetBytes(body, &pos, &out->type) || !GetBytes(body, &pos, &out->incident) ||
      !GetBytes(body, &pos, &out->payload)) {
    return Status::Corruption("record field length runs past the end");
  }
  if (pos != body.size()) return Status::Corruption("trailing bytes after payload");
  std::memcpy(out->prev_hash.data(), value.data() + body.size(), 32);
  std::memcpy(out->hash.data(), value.data() + body.size() + 32, 32);
  return Status::Ok();
}

std::string_view PeekRecordType(std::string_view value) {
  if (value.size() < 1 + 8 + 8 + 12 + 64 || static_cast<uint8_t>(value[0]) != kRecordFormatVersion) return {};
  uint32_t n = GetU32(reinterpret_cast<const uint8_t*>(value.data() + 17));
  if (value.size() - 64 - 21 < n) return {};
  return value.substr(21, n);
}

std::string HashHex(const Hash& h) {
  static const char* kDigits = "0123456789abcdef";
  std::string out(64, '0');
  for (size_t i = 0; i < h.size(); ++i) {
    out[2 * i] = kDigits[h[i] >> 4];
    out[2 * i + 1] = kDigits[h[i] & 0xf];
  }
  return out;
}

std::string SeqKey(uint64_t seq) {
  std::string k;
  PutU64(&k, seq);
  return k;
}

uint64_t SeqFromKey(std::string_view key) {
  if (key.size() != 8) return 0;
  return GetU64(reinterpret_cast<const uint8_t*>(key.data()));
}

}  // namespace noxsync
