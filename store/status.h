// Status and Result: how every layer of noxsync reports an expected failure.
//
// A Status is ok or carries a code and a message written for the person who
// will read it (what failed, on what, and what to do). Result<T> is a value or
// a Status. Neither throws; exceptions are kept for programmer errors.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace noxsync {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,  // bad input or configuration: the caller can fix it
    kNotFound,
    kCorruption,       // stored data does not match its hash or format
    kIOError,          // disk, lock, or the store itself failed
    kBusy,             // another process holds the store for writing
    kUnavailable,      // a backend is down, slow or overloaded: retry later
    kUnauthenticated,  // a backend rejected the credentials
    kPermissionDenied, // authenticated, but not allowed to do this
    kFailedPrecondition,  // the backend's state does not allow it (no transition fits)
  };

  Status() = default;
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) { return {Code::kInvalidArgument, std::move(msg)}; }
  static Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status Corruption(std::string msg) { return {Code::kCorruption, std::move(msg)}; }
  static Status IOError(std::string msg) { return {Code::kIOError, std::move(msg)}; }
  static Status Busy(std::string msg) { return {Code::kBusy, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
  static Status Unauthenticated(std::string msg) { return {Code::kUnauthenticated, std::move(msg)}; }
  static Status PermissionDenied(std::string msg) { return {Code::kPermissionDenied, std::move(msg)}; }
  static Status FailedPrecondition(std::string msg) { return {Code::kFailedPrecondition, std::move(msg)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  const std::string& message() const { return message_; }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// A value of T, or the Status that explains why there is none.
template <class T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) { assert(!status_.ok()); }  // NOLINT

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace noxsync
