// UTF-8 checks and cuts for text from outside (a rejected line, a field
// quoted in an error, a backend's answer) on its way into the event log,
// an HTTP answer or a terminal. Every record payload is JSON, and JSON is
// UTF-8 (RFC 8259): a byte sequence that is not would make the record
// unreadable to noxsync's own reader and to an auditor's tools alike.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace noxsync {

// The length (1 to 4) of the valid UTF-8 sequence that starts at text[i]
// (i < text.size()), with its code point; 0 when the bytes there are not
// one: a stray continuation byte, a sequence cut short, an overlong form, a
// surrogate, or a code point past U+10FFFF.
size_t DecodeUtf8(std::string_view text, size_t i, char32_t* code_point);

// The offset of the first byte of `text` that does not belong to a valid
// UTF-8 sequence (overlong forms, surrogates and code points past U+10FFFF
// included), or npos when all of it is valid.
size_t InvalidUtf8At(std::string_view text);

// `text` with every byte that InvalidUtf8At would name replaced by U+FFFD,
// the replacement character; valid text comes back unchanged. Inside a
// JSON document this keeps the document valid: the bytes it replaces can
// only be inside strings.
std::string ValidUtf8(std::string_view text);

// The longest prefix of `text` of at most `max_bytes` bytes that does not
// end inside a UTF-8 sequence: cutting a quoted field to a length without
// splitting a character.
std::string_view Utf8Prefix(std::string_view text, size_t max_bytes);

// `bytes` in base64 (RFC 4648, with padding): how a record keeps bytes that
// are not UTF-8 exactly as they came, in a JSON string (and how HTTP Basic
// authentication sends its credentials).
std::string Base64(std::string_view bytes);

}  // namespace noxsync
