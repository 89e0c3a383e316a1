#include "sync/config_reader.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>

namespace noxsync {

namespace json = boost::json;

std::string ConfigProblems::Text() const {
  std::string out;
  for (const auto& e : errors) {
    if (!out.empty()) out += '\n';
    out += e;
  }
  return out;
}

ConfigSection::ConfigSection(const json::object& object, std::string path, ConfigProblems* problems)
    : object_(&object), path_(std::move(path)), problems_(problems) {}

std::string ConfigSection::KeyPath(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

void ConfigSection::Error(std::string_view key, std::string_view message) {
  problems_->errors.push_back(KeyPath(key) + ": " + std::string(message));
}

void ConfigSection::Warn(std::string_view key, std::string_view message) {
  problems_->warnings.push_back(KeyPath(key) + ": " + std::string(message));
}

bool ConfigSection::Has(std::string_view key) const { return object_->contains(key); }

const json::value* ConfigSection::Find(std::string_view key) {
  asked_.emplace_back(key);
  auto it = object_->find(key);
  if (it == object_->end() || it->value().is_null()) return nullptr;
  return &it->value();
}

std::optional<std::string> ConfigSection::Expand(std::string_view key, std::string_view raw) {
  std::string out;
  size_t i = 0;
  while (i < raw.size()) {
    size_t start = raw.find("${", i);
    if (start == std::string_view::npos) {
      out.append(raw.substr(i));
      break;
    }
    out.append(raw.substr(i, start - i));
    size_t end = raw.find('}', start + 2);
    if (end == std::string_view::npos) {
      Error(key, "unterminated ${ in the value");
      return std::nullopt;
    }
    std::string name(raw.substr(start + 2, end - start - 2));
    bool valid = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
    if (!valid) {
      Error(key, "\"${" + name + "}\" is not an environment variable name (letters, digits, _)");
      return std::nullopt;
    }
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) {
      Error(key, "environment variable " + name + " is not set; export it before starting noxsync");
      return std::nullopt;
    }
    out.append(value);
    i = end + 1;
  }
  return out;
}

std::string ConfigSection::Str(std::string_view key, std::string fallback) {
  const json::value* v = Find(key);
  if (v == nullptr) return fallback;
  if (!v->is_string()) {
    Error(key, "expected a string");
    return fallback;
  }
  auto expanded = Expand(key, v->get_string());
  return expanded ? *expanded : fallback;
}

std::string ConfigSection::RequiredStr(std::string_view key) {
  if (Find(key) == nullptr) {
    Error(key, "missing (required)");
    return "";
  }
  std::string s = Str(key);
  if (s.empty() && problems_->ok()) Error(key, "must not be empty");
  return s;
}

Secret ConfigSection::OptionalSecret(std::string_view key) {
  const json::value* v = Find(key);
  if (v == nullptr) return Secret();
  if (v->is_string() && v->get_string().find("${") == json::string::npos && !v->get_string().empty()) {
    Warn(key, "the secret is written in the file; use \"${ENV_VAR}\" and keep it in the environment");
  }
  return Secret(Str(key));
}

Secret ConfigSection::RequiredSecret(std::string_view key) {
  if (Find(key) == nullptr) {
    Error(key, "missing (required); write \"${ENV_VAR}\" and export the secret in that variable");
    return Secret();
  }
  size_t errors_before = problems_->errors.size();
  Secret s = OptionalSecret(key);
  if (s.empty() && problems_->errors.size() == errors_before) Error(key, "is empty");
  return s;
}

int64_t ConfigSection::Int(std::string_view key, int64_t fallback, int64_t min, int64_t max) {
  const json::value* v = Find(key);
  if (v == nullptr) return fallback;
  int64_t n;
  if (v->is_int64()) {
    n = v->get_int64();
  } else if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    n = static_cast<int64_t>(v->get_uint64());
  } else {
    Error(key, "expected an integer");
    return fallback;
  }
  if (n < min || n > max) {
    Error(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
                   std::to_string(n));
    return fallback;
  }
  return n;
}

bool ConfigSection::Bool(std::string_view key, bool fallback) {
  const json::value* v = Find(key);
  if (v == nullptr) return fallback;
  if (!v->is_bool()) {
    Error(key, "expected true or false");
    return fallback;
  }
  return v->get_bool();
}

std::vector<std::string> ConfigSection::StrList(std::string_view key) {
  std::vector<std::string> out;
  const json::value* v = Find(key);
  if (v == nullptr) return out;
  if (!v->is_array()) {
    Error(key, "expected an array of strings");
    return out;
  }
  for (size_t i = 0; i < v->get_array().size(); ++i) {
    const json::value& item = v->get_array()[i];
    std::string item_key = std::string(key) + "[" + std::to_string(i) + "]";
    if (!item.is_string()) {
      Error(item_key, "expected a string");
      continue;
    }
    if (auto s = Expand(item_key, item.get_string())) out.push_back(std::move(*s));
  }
  return out;
}

std::map<std::string, std::string> ConfigSection::StrMap(std::string_view key) {
  std::map<std::string, std::string> out;
  const json::value* v = Find(key);
  if (v == nullptr) return out;
  if (!v->is_object()) {
    Error(key, "expected an object of strings");
    return out;
  }
  for (const auto& kv : v->get_object()) {
    std::string item_key = std::string(key) + "." + std::string(kv.key());
    if (!kv.value().is_string()) {
      Error(item_key, "expected a string");
      continue;
    }
    if (auto s = Expand(item_key, kv.value().get_string())) out.emplace(kv.key(), std::move(*s));
  }
  return out;
}

std::map<std::string, int64_t> ConfigSection::IntMap(std::string_view key, int64_t min, int64_t max) {
  std::map<std::string, int64_t> out;
  const json::value* v = Find(key);
  if (v == nullptr) return out;
  if (!v->is_object()) {
    Error(key, "expected an object of integers");
    return out;
  }
  for (const auto& kv : v->get_object()) {
    std::string item_key = std::string(key) + "." + std::string(kv.key());
    if (!kv.value().is_int64() || kv.value().get_int64() < min || kv.value().get_int64() > max) {
      Error(item_key, "expected an integer between " + std::to_string(min) + " and " + std::to_string(max));
      continue;
    }
    out.emplace(kv.key(), kv.value().get_int64());
  }
  return out;
}

std::map<std::string, std::string> ConfigSection::JsonMap(std::string_view key) {
  std::map<std::string, std::string> out;
  const json::value* v = Find(key);
  if (v == nullptr) return out;
  if (!v->is_object()) {
    Error(key, "expected an object");
    return out;
  }
  for (const auto& kv : v->get_object()) out.emplace(kv.key(), json::serialize(kv.value()));
  return out;
}

std::optional<ConfigSection> ConfigSection::Section(std::string_view key) {
  const json::value* v = Find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_object()) {
    Error(key, "expected an object");
    return std::nullopt;
  }
  return ConfigSection(v->get_object(), KeyPath(key), problems_);
}

std::vector<ConfigSection> ConfigSection::SectionList(std::string_view key) {
  std::vector<ConfigSection> out;
  const json::value* v = Find(key);
  if (v == nullptr) return out;
  if (!v->is_array()) {
    Error(key, "expected an array of objects");
    return out;
  }
  for (size_t i = 0; i < v->get_array().size(); ++i) {
    std::string item_key = std::string(key) + "[" + std::to_string(i) + "]";
    const json::value& item = v->get_array()[i];
    if (!item.is_object()) {
      Error(item_key, "expected an object");
      continue;
    }
    out.emplace_back(item.get_object(), KeyPath(item_key), problems_);
  }
  return out;
}

void ConfigSection::Finish() {
  for (const auto& kv : *object_) {
    if (std::find(asked_.begin(), asked_.end(), std::string_view(kv.key())) == asked_.end()) {
      Error(kv.key(), "unknown key (misspelt? see docs/configuration.md)");
    }
  }
}

Result<std::shared_ptr<json::value>> LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("cannot read the configuration file " + path);
  std::stringstream buf;
  buf << in.rdbuf();
  std::string text = buf.str();
  json::stream_parser p;
  boost::system::error_code ec;
  size_t used = p.write_some(text.data(), text.size(), ec);
  if (!ec) p.finish(ec);
  if (ec) {
    size_t line = 1 + std::count(text.begin(), text.begin() + std::min(used, text.size()), '\n');
    return Status::InvalidArgument(path + ":" + std::to_string(line) + ": not valid JSON (" + ec.message() +
                                   ")");
  }
  auto v = std::make_shared<json::value>(p.release());
  if (!v->is_object()) return Status::InvalidArgument(path + ": the configuration must be a JSON object");
  return v;
}

}  // namespace noxsync
