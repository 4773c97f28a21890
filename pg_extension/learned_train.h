// Training the core model of a `learned` index: private to learned_train.cpp and the generation
// writer (learned_write.cpp), its one user.
#pragma once

#include "learned.h"

// A trained model: its segments (palloc'd in the caller's context, nsegments entries of
// learned_segment_size(n) bytes) and the core model itself, owned by `cxt` (a child of the
// caller's context: deleting it, or an error unwinding it, deletes the model). n == 0 gives no
// segments and no model. Free with learned_trained_free.
struct LearnedTrained {
  char* segments;
  uint32 nsegments;
  uint32 model_epsilon;  // the bound predict() uses (PgmModel::epsilon())
  void* model;           // omen::PgmModel, or NULL
  MemoryContext cxt;
};

// Trains the core model over keys[0..n) (sorted, duplicates allowed) with error bound epsilon.
LearnedTrained learned_train(const uint64* keys, Size n, uint32 epsilon);

// Streaming training, for keys that are not in memory at once: learned_trainer_add receives the n
// keys in ascending order (in batches), learned_trainer_finish returns the model (and frees the
// trainer). The core builder holds at most chunk_points constraint points (16 B each) at a time;
// a model piece also ends at each chunk boundary (omen::PgmModel::Builder).
struct LearnedTrainer;
LearnedTrainer* learned_trainer_begin(Size n, uint32 epsilon, Size chunk_points);
void learned_trainer_add(LearnedTrainer* t, const uint64* keys, Size count);
LearnedTrained learned_trainer_finish(LearnedTrainer* t);

// Training error |predicted position - lower_bound| over the build keys, accumulated batch by
// batch: call with consecutive batches of the sorted keys, starting from a zeroed accumulator.
struct LearnedErrorAcc {
  double sum;
  uint64 max;
  Size pos;    // keys seen
  Size first;  // lower_bound of the last key seen
  uint64 prev;
};
void learned_trained_error(const LearnedTrained& t, const uint64* keys, Size count, LearnedErrorAcc* acc);
void learned_trained_free(LearnedTrained* t);
