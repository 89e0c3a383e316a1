// Text from outside (a Noxys event's fields, a backend's answer, a rejected
// line) made safe to print on a terminal or in a one-line-per-entry log.
#pragma once

#include <string>
#include <string_view>

namespace noxsync {

// `text` with every control character written as an escape, so that what
// an event carries cannot move the cursor, clear the screen, retitle the
// terminal or start a new line in a listing or a log: the C0 controls and
// DEL as \n, \r, \t or \xHH; the C1 controls (U+0080..U+009F) and the
// bidirectional overrides and isolates (U+202A..U+202E, U+2066..U+2069),
// which reorder what is shown, as \uHHHH. Everything else is kept, other
// UTF-8 and backslashes included.
std::string PrintableText(std::string_view text);

// The columns `text` (UTF-8, already printable) takes on a terminal: one per
// character, none for a combining mark, two for the wide characters of
// East Asian scripts and for emoji. Bytes that are not valid UTF-8 count
// one each, as a terminal shows them.
size_t DisplayWidth(std::string_view text);

// `text` followed by spaces up to `columns` terminal columns, for the
// listings' aligned columns: printf pads by bytes, so "josé" (5 bytes)
// came out one column short. Text already as wide or wider is kept whole.
std::string PadToColumns(std::string_view text, size_t columns);

}  // namespace noxsync
