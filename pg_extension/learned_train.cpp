// Training the core model of a `learned` index (learned_train.h): over keys in memory, or streamed
// in batches; the stored segments read off the trained model; its training error.
//
// The core model and the streaming builder live behind raw pointers owned by a memory context of
// their own (omen_pg::make_owned), so an ERROR cannot leak them; learned_trained_free deletes it.
#include "learned_train.h"

#include <omen/model.h>

#include <algorithm>
#include <span>
#include <stdexcept>

namespace {

// Fills out->segments / nsegments / model_epsilon from the core model out->model, trained over
// n keys.
void read_segments(LearnedTrained* out, Size n) {
  auto* m = static_cast<const omen::PgmModel*>(out->model);
  Size nseg = omen_pg::call_core("reading the model", [&] { return m->segment_count(); });
  out->model_epsilon = omen_pg::call_core("reading the model", [&] { return m->epsilon(); });
  const Size seg_size = learned_segment_size(n);
  out->segments = static_cast<char*>(palloc_extended(std::max<Size>(nseg, 1) * seg_size, MCXT_ALLOC_HUGE));
  out->nsegments = static_cast<uint32>(nseg);
  omen_pg::call_core("reading the model", [&] {
    if (m->is_wide() != (seg_size == sizeof(LearnedWideSegment)))
      throw std::logic_error("core model layout differs from the page layout");
    for (Size i = 0; i < nseg; i++) {
      if (m->is_wide()) {
        const omen::WidePgmSegment& g = m->wide_segments()[i];
        const LearnedWideSegment w{g.first_key, g.slope, g.intercept};
        memcpy(out->segments + i * seg_size, &w, seg_size);
      } else {
        const omen::PgmSegment& g = m->segments()[i];
        const LearnedSegment c{g.first_key, g.slope, g.intercept};
        memcpy(out->segments + i * seg_size, &c, seg_size);
      }
    }
  });
}

MemoryContext training_context() {
  return AllocSetContextCreate(CurrentMemoryContext, "learned training", ALLOCSET_SMALL_SIZES);
}

}  // namespace

struct LearnedTrainer {
  MemoryContext cxt;  // owns the core builder, then the model
  omen::PgmModel::Builder* builder;
  Size n;
};

LearnedTrained learned_train(const uint64* keys, Size n, uint32 epsilon) {
  LearnedTrained out{nullptr, 0, 0, nullptr, nullptr};
  if (n == 0) return out;
  out.cxt = training_context();
  out.model = omen_pg::make_owned<omen::PgmModel>(out.cxt, "training the learned model", [&] {
    omen::ModelOptions opt;
    opt.epsilon = epsilon;
    return new omen::PgmModel(omen::PgmModel::build(std::span<const uint64_t>(keys, n), opt));
  });
  read_segments(&out, n);
  return out;
}

LearnedTrainer* learned_trainer_begin(Size n, uint32 epsilon, Size chunk_points) {
  auto* t = static_cast<LearnedTrainer*>(palloc0(sizeof(LearnedTrainer)));
  t->n = n;
  t->cxt = training_context();
  t->builder = omen_pg::make_owned<omen::PgmModel::Builder>(t->cxt, "training the learned model", [&] {
    omen::ModelOptions opt;
    opt.epsilon = epsilon;
    return new omen::PgmModel::Builder(n, opt, std::max<Size>(chunk_points, 2));
  });
  return t;
}

void learned_trainer_add(LearnedTrainer* t, const uint64* keys, Size count) {
  omen_pg::call_core("training the learned model",
                     [&] { t->builder->add(std::span<const uint64_t>(keys, count)); });
}

LearnedTrained learned_trainer_finish(LearnedTrainer* t) {
  LearnedTrained out{nullptr, 0, 0, nullptr, t->cxt};
  if (t->n > 0) {
    out.model = omen_pg::make_owned<omen::PgmModel>(t->cxt, "training the learned model",
                                                    [&] { return new omen::PgmModel(t->builder->finish()); });
    read_segments(&out, t->n);
  }
  pfree(t);
  return out;
}

void learned_trained_error(const LearnedTrained& t, const uint64* keys, Size count, LearnedErrorAcc* acc) {
  if (t.model == nullptr) return;
  auto* m = static_cast<const omen::PgmModel*>(t.model);
  omen_pg::call_core("measuring the model", [&] {
    for (Size i = 0; i < count; i++, acc->pos++) {
      if (acc->pos == 0 || keys[i] != acc->prev) acc->first = acc->pos;
      acc->prev = keys[i];
      auto b = m->predict(keys[i]);
      uint64 err = b.pos > acc->first ? b.pos - acc->first : acc->first - b.pos;
      acc->sum += static_cast<double>(err);
      acc->max = std::max<uint64>(acc->max, err);
    }
  });
}

void learned_trained_free(LearnedTrained* t) {
  if (t->segments != nullptr) pfree(t->segments);
  if (t->cxt != nullptr) MemoryContextDelete(t->cxt);
  t->segments = nullptr;
  t->model = nullptr;
  t->cxt = nullptr;
}
