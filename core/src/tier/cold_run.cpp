// ColdRun: persistence and lookups of one cold run (cold_run.h, codec.h).
#include "tier/cold_run.h"

#include <algorithm>

#include "tier/codec.h"

namespace omen::detail {

ColdRun::ColdRun(uint64_t id, std::vector<uint64_t>&& keys) : id_(id), index_(std::move(keys), {}) {}

void ColdRun::write(uint64_t id, const std::vector<Entry>& entries, WriteBatch* batch) {
  write_entries(id, 0, entries, batch);
  std::vector<uint64_t> keys;
  keys.reserve(entries.size());
  for (const auto& e : entries) keys.push_back(e.key);
  write_key_chunks(id, keys, 0, (keys.size() + kKeysPerChunk - 1) / kKeysPerChunk, batch);
  write_header(id, entries.size(), batch);
}

void ColdRun::write_entries(uint64_t id, size_t first_pos, std::span<const Entry> entries,
                            WriteBatch* batch) {
  for (size_t i = 0; i < entries.size(); ++i)
    batch->put(tagged(kColdTag, id, first_pos + i), versioned_value(entries[i].deleted, entries[i].value));
}

void ColdRun::write_key_chunks(uint64_t id, std::span<const uint64_t> keys, size_t first_chunk,
                               size_t end_chunk, WriteBatch* batch) {
  std::string chunk;
  for (size_t c = first_chunk; c < end_chunk; ++c) {
    chunk.clear();
    for (size_t pos = c * kKeysPerChunk; pos < std::min(keys.size(), (c + 1) * kKeysPerChunk); ++pos)
      put_u64(&chunk, keys[pos]);
    batch->put(tagged(kRunKeysTag, id, c), chunk);
  }
}

void ColdRun::write_header(uint64_t id, uint64_t count, WriteBatch* batch) {
  std::string header;
  put_u64(&header, count);
  batch->put(tagged(kRunTag, id), header);
}

void ColdRun::delete_rows(uint64_t id, uint64_t count, WriteBatch* batch) {
  for (uint64_t pos = 0; pos < count; ++pos) batch->del(tagged(kColdTag, id, pos));
  for (uint64_t c = 0; c * kKeysPerChunk < count; ++c) batch->del(tagged(kRunKeysTag, id, c));
}

Status ColdRun::load(const StorageEngine& db, uint64_t id, uint64_t count,
                     std::shared_ptr<const ColdRun>* out) {
  std::vector<uint64_t> keys;
  keys.reserve(count);
  std::string chunk;
  for (uint64_t c = 0; keys.size() < count; ++c) {
    Status s = db.get(tagged(kRunKeysTag, id, c), &chunk);
    if (!s.ok() || chunk.size() % 8 != 0 || chunk.empty())
      return Status::Corruption("cold run " + std::to_string(id) + ": key chunk " + std::to_string(c) +
                                " is missing or damaged (" + s.to_string() + ")");
    for (size_t at = 0; at < chunk.size(); at += 8) {
      uint64_t k = get_u64(chunk, at);
      if (!keys.empty() && k <= keys.back())
        return Status::Corruption("cold run " + std::to_string(id) + ": keys out of order");
      keys.push_back(k);
    }
  }
  if (keys.size() != count)
    return Status::Corruption("cold run " + std::to_string(id) + ": key count mismatch");
  *out = std::make_shared<const ColdRun>(id, std::move(keys));
  return Status::OK();
}

std::optional<size_t> ColdRun::position(uint64_t key) const {
  size_t p = index_.lower_bound(key);
  if (p == index_.size() || index_.keys()[p] != key) return std::nullopt;
  return p;
}

std::string ColdRun::entry_key(size_t pos) const { return tagged(kColdTag, id_, pos); }

namespace {
Status decode(std::string_view stored, uint64_t run, size_t pos, bool* deleted, std::string* value) {
  if (stored.empty() || (stored[0] != kValueKind && stored[0] != kDeleteKind))
    return Status::Corruption("cold run " + std::to_string(run) + " entry " + std::to_string(pos) +
                              " is damaged");
  *deleted = stored[0] == kDeleteKind;
  value->assign(stored.substr(1));
  return Status::OK();
}
}  // namespace

Status ColdRun::read(const StorageEngine& db, size_t pos, bool* deleted, std::string* value) const {
  std::string stored;
  Status s = db.get(entry_key(pos), &stored);
  if (s.is_not_found())
    return Status::Corruption("cold run " + std::to_string(id_) + " lacks entry " + std::to_string(pos));
  OMEN_RETURN_IF_ERROR(s);
  return decode(stored, id_, pos, deleted, value);
}

Status RunCursor::read(size_t pos, bool* deleted, std::string* value) {
  std::string want = run_.entry_key(pos);
  if (!it_) {
    it_ = db_.new_iterator();
    it_->seek(want);
  }
  // Step forward over entries shadowed by newer sources; seek when the gap is large.
  for (int steps = 0; it_->valid() && it_->key() < want; ++steps) {
    if (steps == 8) {
      it_->seek(want);
      break;
    }
    it_->next();
  }
  OMEN_RETURN_IF_ERROR(it_->status());
  if (!it_->valid() || it_->key() != want)
    return Status::Corruption("cold run " + std::to_string(run_.id()) + " lacks entry " +
                              std::to_string(pos));
  return decode(it_->value(), run_.id(), pos, deleted, value);
}

}  // namespace omen::detail
