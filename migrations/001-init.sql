-- The aggregator's tables. Amounts are NUMERIC with two decimals so that sums are exact (0.10 + 0.20 = 0.30);
-- the application never sends floats, only decimal strings built from integer cents.

-- One row per (batch, branch, currency): the original pipeline's per-micro-batch sums, plus what an operator
-- needs to trace a row back to Kafka (record count and, per "<topic>-<partition>", the first and last offset of
-- the records that fed it).
CREATE TABLE transaction_flow (
  id bigserial PRIMARY KEY,
  batch_id uuid NOT NULL,
  curr_time timestamptz NOT NULL,
  branch_name text NOT NULL,
  currency_code char(3) NOT NULL,
  batch_value numeric(38, 2) NOT NULL,
  record_count integer NOT NULL CHECK (record_count > 0),
  source_offsets jsonb NOT NULL,
  first_record_time timestamptz,
  last_record_time timestamptz,
  consumer_group text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT transaction_flow_batch_branch_currency_key UNIQUE (batch_id, branch_name, currency_code)
);

CREATE INDEX transaction_flow_curr_time_idx ON transaction_flow (curr_time);
CREATE INDEX transaction_flow_branch_currency_time_idx ON transaction_flow (branch_name, currency_code, curr_time);

-- Running totals. Updated in the same transaction as transaction_flow and the offset ledger, so it always equals
-- the sum of every accepted record exactly once.
CREATE TABLE open_currency_position (
  branch_name text NOT NULL,
  currency_code char(3) NOT NULL,
  position numeric(38, 2) NOT NULL DEFAULT 0,
  record_count bigint NOT NULL DEFAULT 0,
  last_batch_id uuid,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (branch_name, currency_code)
);

-- Records that failed validation, kept byte-exact (bytea: a value that is not valid UTF-8 survives as sent).
-- The primary key makes a redelivered record land on the same row.
CREATE TABLE rejected_transactions (
  topic text NOT NULL,
  partition integer NOT NULL,
  "offset" bigint NOT NULL,
  record_time timestamptz,
  key bytea,
  value bytea,
  headers jsonb,
  reason_code text NOT NULL,
  reason text NOT NULL,
  consumer_group text NOT NULL,
  batch_id uuid NOT NULL,
  rejected_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT rejected_transactions_record_key UNIQUE (topic, partition, "offset")
);

CREATE INDEX rejected_transactions_rejected_at_idx ON rejected_transactions (rejected_at);
CREATE INDEX rejected_transactions_reason_code_idx ON rejected_transactions (reason_code);

-- The exactly-once ledger: the highest offset whose effects are committed, per consumer group and partition.
-- Kafka delivery to Lambda is at-least-once; a record at or below last_offset has already been applied and is
-- skipped. -1 means nothing from the partition has been applied yet.
CREATE TABLE consumer_offsets (
  consumer_group text NOT NULL,
  topic text NOT NULL,
  partition integer NOT NULL,
  last_offset bigint NOT NULL DEFAULT -1 CHECK (last_offset >= -1),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer_group, topic, partition)
);
