-- omendb 0.6.0 -> 0.7.0: learned index leaves may store their TIDs relative to the leaf's first
-- heap block (data in heap order) and their keys divided by a unit all keys are whole multiples of
-- apart (whole seconds, cents): smaller indexes. Indexes are written as format version 4
-- (dense) or 5 (sparse) from their next build or re-train; versions 2 and 3 stay readable, so
-- nothing is rebuilt, and no SQL object changes.
\echo Use "ALTER EXTENSION omendb UPDATE" to load this file. \quit
