// TieredStore::scan: an ordered merge of the hot tier and the cold runs that yields every visible
// key exactly once (docs/storage.md, "Why a scan sees each key once").
//
// The scan pins one RunSet for its whole duration. A hot version migrated into a run of that set is
// skipped in the hot tier (the run has it); any other hot version is used; hot versions are never
// reclaimed while a RunSet lacking their run is pinned (hot_tier.h, invariants 2-3). Per key, the
// merge takes the first source in the order hot, newest run, ..., oldest run.
#include <algorithm>

#include "omen/tiered_store.h"
#include "tier/hot_tier.h"

namespace omen {

namespace {
constexpr size_t kChunk = 256;

struct Item {
  uint64_t key;
  size_t rank;  // 0: hot; r > 0: run r - 1 of the pinned RunSet (newest first)
  size_t at;    // index into the hot chunk, or position in the run
};
}  // namespace

Status TieredStore::scan(uint64_t first, uint64_t last, const Visibility& vis,
                         const std::function<bool(uint64_t, std::string_view)>& fn) const {
  std::shared_ptr<const detail::RunSet> runs = hot_->runs();
  struct Source {
    const detail::ColdRun* run;
    size_t pos;
    detail::RunCursor cursor;
  };
  std::vector<Source> sources;
  for (const auto& r : runs->runs)
    sources.push_back({r.get(), r->lower_bound(first), detail::RunCursor(*db_, *r)});

  std::vector<detail::HotTier::Entry> hot;
  std::vector<Item> items;
  std::string value;
  // Chunks grow from 16 to kChunk keys per source: short scans copy little, long ones lock rarely.
  for (uint64_t cur = first, chunk = 16;; chunk = std::min<uint64_t>(2 * chunk, kChunk)) {
    uint64_t bound = last;
    for (const auto& s : sources)
      if (s.pos + chunk < s.run->size()) bound = std::min(bound, s.run->key_at(s.pos + chunk - 1));
    hot.clear();
    bound = hot_->collect(cur, bound, vis, runs->max_run, chunk, &hot);

    items.clear();
    for (size_t i = 0; i < hot.size(); ++i) items.push_back({hot[i].key, 0, i});
    for (size_t r = 0; r < sources.size(); ++r)
      for (auto& s = sources[r]; s.pos < s.run->size() && s.run->key_at(s.pos) <= bound; ++s.pos)
        items.push_back({s.run->key_at(s.pos), r + 1, s.pos});
    std::sort(items.begin(), items.end(),
              [](const Item& a, const Item& b) { return a.key != b.key ? a.key < b.key : a.rank < b.rank; });

    for (size_t i = 0; i < items.size(); ++i) {
      const Item& it = items[i];
      if (i > 0 && items[i - 1].key == it.key) continue;  // shadowed by a newer source
      if (it.rank == 0) {
        if (!hot[it.at].deleted && !fn(it.key, hot[it.at].value)) return Status::OK();
        continue;
      }
      bool deleted = false;
      OMEN_RETURN_IF_ERROR(sources[it.rank - 1].cursor.read(it.at, &deleted, &value));
      if (!deleted && !fn(it.key, value)) return Status::OK();
    }
    if (bound >= last) return Status::OK();
    cur = bound + 1;
  }
}

}  // namespace omen
