// HotLog: see the format, damage rules and thread safety in hot_log.h.
#include "tier/hot_log.h"
#include "tier/spin_lock.h"
#include "util/crc32c.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>

namespace omen::detail {

namespace {

constexpr size_t kHeader = 8, kPayloadHeader = 12, kRowHeader = 21;
constexpr const char* kSegmentPrefix = "log-";
constexpr const char* kCheckpointPrefix = "ckpt-";
constexpr const char* kTmpSuffix = ".tmp";

void put_le(std::string* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t get_le(std::string_view s, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

// One record of `n` rows; row(i) gives {key, xmin, deleted, value}. Fills the header last.
template <class RowAt>
void encode(Timestamp last_ts, size_t n, size_t value_bytes, RowAt row, std::string* out) {
  size_t start = out->size();
  out->reserve(start + kHeader + kPayloadHeader + n * kRowHeader + value_bytes);
  out->append(kHeader, '\0');
  put_le(out, last_ts, 8);
  put_le(out, n, 4);
  for (size_t i = 0; i < n; ++i) {
    auto [key, xmin, deleted, value] = row(i);
    put_le(out, key, 8);
    put_le(out, xmin, 8);
    out->push_back(deleted ? 'D' : 'V');
    put_le(out, value.size(), 4);
    out->append(value);
  }
  size_t len = out->size() - start - kHeader;
  uint32_t crc = crc32c(std::string_view(*out).substr(start + kHeader));
  for (int i = 0; i < 4; ++i) (*out)[start + i] = static_cast<char>((len >> (8 * i)) & 0xff);
  for (int i = 0; i < 4; ++i) (*out)[start + 4 + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
}

struct RowView {
  uint64_t key;
  Timestamp xmin;
  bool deleted;
  std::string_view value;
};

// Decodes one payload; false if its contents do not add up (a checksum collision or a bug).
bool decode(std::string_view p, Timestamp* last_ts, std::vector<RowView>* rows) {
  if (p.size() < kPayloadHeader) return false;
  *last_ts = get_le(p, 0, 8);
  uint64_t n = get_le(p, 8, 4);
  size_t at = kPayloadHeader;
  for (uint64_t i = 0; i < n; ++i) {
    if (p.size() - at < kRowHeader) return false;
    char kind = p[at + 16];
    uint64_t vlen = get_le(p, at + 17, 4);
    if ((kind != 'V' && kind != 'D') || p.size() - at - kRowHeader < vlen) return false;
    rows->push_back({get_le(p, at, 8), get_le(p, at + 8, 8), kind == 'D', p.substr(at + kRowHeader, vlen)});
    at += kRowHeader + vlen;
  }
  return at == p.size();
}

std::string file_name(const char* prefix, uint64_t n) {
  char buf[32];
  snprintf(buf, sizeof buf, "%s%020llu", prefix, static_cast<unsigned long long>(n));
  return buf;
}

// "log-N" / "ckpt-N" -> N; false for any other name.
bool parse_name(const std::string& name, const char* prefix, uint64_t* n) {
  size_t p = strlen(prefix);
  if (name.size() != p + 20 || name.compare(0, p, prefix) != 0) return false;
  if (!std::all_of(name.begin() + p, name.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  *n = std::stoull(name.substr(p));
  return true;
}

// Replays every record of file `name` into `newest` (per key, the largest xmin wins). A torn tail
// ends a segment quietly (tail_ok); any other damage is kCorruption.
Status replay(const std::string& name, std::string_view data, bool tail_ok,
              std::unordered_map<uint64_t, LogRow>* newest, Timestamp* last_ts) {
  std::vector<RowView> rows;
  for (size_t at = 0; at < data.size();) {
    size_t left = data.size() - at;
    uint64_t len = left >= kHeader ? get_le(data, at, 4) : 0;
    bool whole = left >= kHeader && left - kHeader >= len;
    Timestamp ts = 0;
    rows.clear();
    if (!whole || crc32c(data.substr(at + kHeader, len)) != get_le(data, at + 4, 4) ||
        !decode(data.substr(at + kHeader, len), &ts, &rows)) {
      size_t end = whole ? at + kHeader + len : data.size();
      bool only_zeros = std::all_of(data.begin() + end, data.end(), [](char c) { return c == 0; });
      if (tail_ok && only_zeros) return Status::OK();  // a write interrupted by a crash
      return Status::Corruption("hot log file " + name + " is damaged at byte " + std::to_string(at) +
                                " (record length or checksum wrong)");
    }
    *last_ts = std::max(*last_ts, ts);
    for (const RowView& r : rows) {
      *last_ts = std::max(*last_ts, r.xmin);
      auto [it, fresh] = newest->try_emplace(r.key);
      if (fresh || it->second.xmin < r.xmin) it->second = {r.key, r.xmin, r.deleted, std::string(r.value)};
    }
    at += kHeader + len;
  }
  return Status::OK();
}

}  // namespace

void encode_log_record(Timestamp last_ts, std::span<const LogRow> rows, std::string* out) {
  size_t bytes = 0;
  for (const auto& r : rows) bytes += r.value.size();
  encode(
      last_ts, rows.size(), bytes,
      [&](size_t i) {
        const LogRow& r = rows[i];
        return RowView{r.key, r.xmin, r.deleted, r.value};
      },
      out);
}

Status HotLog::open(FileStore* files, Recovered* rec, std::unique_ptr<HotLog>* out) {
  std::vector<std::string> names;
  OMEN_RETURN_IF_ERROR(files->list(&names));
  std::vector<uint64_t> segments, checkpoints;
  for (const auto& n : names) {
    uint64_t v;
    if (parse_name(n, kSegmentPrefix, &v))
      segments.push_back(v);
    else if (parse_name(n, kCheckpointPrefix, &v))
      checkpoints.push_back(v);
    else if (n.size() > 4 && n.compare(n.size() - 4, 4, kTmpSuffix) == 0)
      OMEN_RETURN_IF_ERROR(files->remove(n));
  }
  std::sort(segments.begin(), segments.end());
  std::unique_ptr<HotLog> log(new HotLog(files));
  std::unordered_map<uint64_t, LogRow> newest;
  std::string data;
  uint64_t s = checkpoints.empty() ? 0 : *std::max_element(checkpoints.begin(), checkpoints.end());
  if (s != 0) {
    OMEN_RETURN_IF_ERROR(files->read(file_name(kCheckpointPrefix, s), &data));
    OMEN_RETURN_IF_ERROR(replay(file_name(kCheckpointPrefix, s), data, false, &newest, &rec->last_ts));
    log->checkpoint_ = s;
    log->checkpoint_bytes_ = data.size();
  }
  uint64_t next = std::max<uint64_t>(s, 1);
  for (uint64_t n : segments) {
    if (n < s) continue;
    OMEN_RETURN_IF_ERROR(files->read(file_name(kSegmentPrefix, n), &data));
    OMEN_RETURN_IF_ERROR(replay(file_name(kSegmentPrefix, n), data, true, &newest, &rec->last_ts));
    log->older_bytes_ += data.size();
    ++log->older_segments_;
    next = n + 1;
  }
  data.clear();
  data.shrink_to_fit();
  // The files the checkpoint replaced (a crash may have left them).
  for (uint64_t n : segments)
    if (n < s) OMEN_RETURN_IF_ERROR(files->remove(file_name(kSegmentPrefix, n)));
  for (uint64_t n : checkpoints)
    if (n < s) OMEN_RETURN_IF_ERROR(files->remove(file_name(kCheckpointPrefix, n)));
  rec->rows.reserve(newest.size());
  for (auto& [k, r] : newest) rec->rows.push_back(std::move(r));
  std::sort(rec->rows.begin(), rec->rows.end(),
            [](const LogRow& a, const LogRow& b) { return a.key < b.key; });
  log->last_ts_ = rec->last_ts;
  {
    std::lock_guard g(log->mu_);
    OMEN_RETURN_IF_ERROR(log->start_segment_locked(next));
  }
  *out = std::move(log);
  return Status::OK();
}

HotLog::~HotLog() = default;

// REQUIRES: mu_ held. The previous segment (if any) is synced by the caller when it matters.
Status HotLog::start_segment_locked(uint64_t n) {
  std::unique_ptr<AppendFile> f;
  OMEN_RETURN_IF_ERROR(files_->create(file_name(kSegmentPrefix, n), &f));
  if (file_) older_bytes_ += written_, ++older_segments_;
  file_ = std::move(f);
  segment_ = n;
  written_ = 0;
  std::lock_guard g(sync_mu_);
  synced_segment_ = n, synced_ = 0;  // everything in earlier segments was synced (or never acknowledged)
  return Status::OK();
}

// REQUIRES: mu_ held.
Status HotLog::fail_locked(Status s) {
  if (error_.ok())
    error_ = Status(s.code(), "hot log failed, the store refuses writes until reopened: " + s.message());
  return error_;
}

Status HotLog::append_commit(Timestamp ts, std::span<const Write> writes, bool sync) {
  std::string rec;
  size_t bytes = 0;
  for (const auto& w : writes) bytes += w.value.size();
  encode(
      ts, writes.size(), bytes,
      [&](size_t i) {
        const Write& w = writes[i];
        return RowView{w.key, ts, w.deleted, w.value};
      },
      &rec);
  uint64_t segment, end;
  {
    auto g = lock_spinning(mu_);
    if (!error_.ok()) return error_;
    Status s = file_->append(rec);
    if (!s.ok()) return fail_locked(s);
    written_ += rec.size();
    last_ts_ = std::max(last_ts_, ts);
    segment = segment_, end = written_;
  }
  return sync ? sync_to(segment, end) : Status::OK();
}

Status HotLog::sync() {
  uint64_t segment, end;
  {
    std::lock_guard g(mu_);
    if (!error_.ok()) return error_;
    segment = segment_, end = written_;
  }
  return sync_to(segment, end);
}

// Group commit: returns once byte `end` of `segment` is durable. One caller at a time runs the
// fsync, covering every record appended before it starts; the others wait and re-check.
Status HotLog::sync_to(uint64_t segment, uint64_t end) {
  std::unique_lock lk(sync_mu_);
  for (;;) {
    if (synced_segment_ > segment || (synced_segment_ == segment && synced_ >= end)) return Status::OK();
    if (!syncing_) break;
    sync_cv_.wait(lk);
  }
  syncing_ = true;
  lk.unlock();
  std::shared_ptr<AppendFile> file;
  uint64_t seg, upto;
  Status s;
  {
    std::lock_guard g(mu_);
    s = error_;
    file = file_, seg = segment_, upto = written_;
  }
  if (s.ok()) s = file->sync();
  if (!s.ok()) {
    std::lock_guard g(mu_);
    s = fail_locked(s);
  }
  lk.lock();
  syncing_ = false;
  if (s.ok() && (seg > synced_segment_ || (seg == synced_segment_ && upto > synced_)))
    synced_segment_ = seg, synced_ = upto;
  sync_cv_.notify_all();
  if (!s.ok()) return s;
  lk.unlock();
  return sync_to(segment, end);  // covered now unless the segment changed under us (then re-checked)
}

Status HotLog::rotate(Timestamp* last_before) {
  std::lock_guard g(mu_);
  if (!error_.ok()) return error_;
  Status s = file_->sync();
  if (!s.ok()) return fail_locked(s);
  *last_before = last_ts_;
  return start_segment_locked(segment_ + 1);
}

Status HotLog::write_checkpoint(Timestamp last_ts, const std::function<bool(std::vector<LogRow>*)>& next) {
  uint64_t s;
  {
    std::lock_guard g(mu_);
    if (!error_.ok()) return error_;
    s = segment_;
  }
  const std::string name = file_name(kCheckpointPrefix, s), tmp = name + kTmpSuffix;
  std::unique_ptr<AppendFile> f;
  OMEN_RETURN_IF_ERROR(files_->create(tmp, &f));
  std::string buf;
  encode_log_record(last_ts, {}, &buf);  // the timestamp survives an empty hot tier
  uint64_t bytes = 0;
  std::vector<LogRow> rows;
  for (bool more = true; more;) {
    rows.clear();
    more = next(&rows);
    encode_log_record(last_ts, rows, &buf);
    if (buf.size() >= (size_t{1} << 20) || !more) {
      OMEN_RETURN_IF_ERROR(f->append(buf));
      bytes += buf.size();
      buf.clear();
    }
  }
  OMEN_RETURN_IF_ERROR(f->sync());
  f.reset();
  OMEN_RETURN_IF_ERROR(files_->rename(tmp, name));
  {
    std::lock_guard g(mu_);
    checkpoint_ = s, checkpoint_bytes_ = bytes, older_bytes_ = 0, older_segments_ = 0;
  }
  std::vector<std::string> names;
  OMEN_RETURN_IF_ERROR(files_->list(&names));
  for (const auto& n : names) {
    uint64_t v;
    if ((parse_name(n, kSegmentPrefix, &v) && v < s) || (parse_name(n, kCheckpointPrefix, &v) && v < s))
      OMEN_RETURN_IF_ERROR(files_->remove(n));
  }
  return Status::OK();
}

uint64_t HotLog::bytes_since_checkpoint() const {
  std::lock_guard g(mu_);
  return older_bytes_ + written_;
}

size_t HotLog::segments_since_checkpoint() const {
  std::lock_guard g(mu_);
  return older_segments_ + 1;
}

uint64_t HotLog::checkpoint_bytes() const {
  std::lock_guard g(mu_);
  return checkpoint_bytes_;
}

Status HotLog::error() const {
  std::lock_guard g(mu_);
  return error_;
}

}  // namespace omen::detail
