// The internals of tiered_decode.cpp (decoding a batch, planning its rows) and tiered_form.cpp
// (forming a row's tuple by the plan): the decoder's state, which only these two files see.
#pragma once

#include "tiered.h"

#include <omen/batch_codec.h>

#include <string>
#include <vector>

struct ReaderState {
  omen::BatchReader* reader;
  omen::DecodedBatch batch;
  std::vector<omen::ColumnKind> kinds;
  std::vector<uint32_t> selected;  // columns decoded, when not all
  // Per column: whether its NULLs are all on rows the batch version loaded has deleted (a
  // compacted batch's, which no reader forms), so its rows' layout may still be fixed.
  std::vector<uint8_t> nulls_dead_only;
  std::string error;
};

// Where one attribute's value comes from when a row is formed.
enum class Source : uint8 {
  kNull,     // dropped, or added after the batch with a NULL missing value
  kSkipped,  // not decoded: a column the scan does not read (NULL)
  kInt,      // Int64 column, stored in attlen bytes by value
  kFloat4,   // Float64 column narrowed to float4
  kFloat8,   // Float64 column
  kVarlena,  // Bytes column: a varlena's data (the header is made here)
  kCstring,  // Bytes column: a cstring with its zero
  kFixed,    // Bytes column: a fixed-length by-reference value
};

struct AttrPlan {
  Source src;
  char align;     // attalign
  bool packable;  // varlena that heap would give a 1-byte header when short enough
  int16 attlen;
  const omen::DecodedColumn* col;
};

struct BatchDecoder {
  TupleDesc desc;  // the descriptor the loaded batch is bound to (nullptr: none)
  int cap;         // entries in values, nulls and plan
  Datum* values;   // the generic path's row
  bool* nulls;
  AttrPlan* plan;  // one per attribute of desc, for the loaded batch
  bool generic;    // the loaded batch needs heap_form_tuple (a missing value that is not NULL)
  // Fixed layout: every value the batch's rows carry is by value and never NULL, so every row's
  // tuple has the same length and offsets, and its header is `head` (hoff bytes).
  bool fixed;
  uint32 hoff, data_len;
  char* head;  // in parent, `head_cap` bytes
  uint32 head_cap;
  uint32* offsets;  // per attribute of desc: the value's offset in the data (fixed layout)
  MemoryContext parent, cxt;
  ReaderState* rd;
};
