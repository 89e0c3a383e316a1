// Finding the refusals (event.rejected records) that name a Noxys event id:
// what `noxsync history ID` and GET /v1/events/{id} show for an event that
// is in no incident, or was also sent with other content.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/event_log.h"

namespace noxsync {

// The event id an event.rejected payload names: its "event_id" field, or, in
// a refusal recorded before the Ingestor wrote that field, the id in the
// refused text when that still reads as JSON. "" when neither gives one, or
// the id is not one the store indexes (RefusableEventId). The Ingestor and a
// rebuild both take the index's key from here, so they write the same rows.
std::string RefusedEventId(std::string_view payload);

// The seqs of the refusals naming `event_id`, in order: at most `limit` with
// seq >= `from`; *next is the seq to resume at, or 0 when none is left.
// Through the store's index (kByEvent), and, for the parts of a store
// written by a version without the index (EventLog::UnindexedRefusalRanges),
// by reading those parts of the log: their event.rejected records only, the
// rest skipped undecoded. *read_log says whether it had to.
Status FindRefusals(const EventLog& log, std::string_view event_id, uint64_t from, size_t limit,
                    std::vector<uint64_t>* seqs, uint64_t* next, bool* read_log = nullptr);

// Reads the record at `seq` that the index names as a refusal of
// `event_id`, and checks that it is one: a row the log does not bear out
// (a store changed outside noxsync) is Corruption naming the seq and what to
// run, never shown as a refusal it is not.
Status ReadRefusal(const EventLog& log, std::string_view event_id, uint64_t seq, LogRecord* record);

}  // namespace noxsync
