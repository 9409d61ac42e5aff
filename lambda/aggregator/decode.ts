export interface KafkaHeader {
  readonly key: string;
  readonly value: Buffer;
}

/** One Kafka record of an MSK event, with key, value and headers as the bytes the producer sent. */
export interface KafkaRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** Kafka timestamp in milliseconds since the epoch; undefined when the event carries none. */
  readonly timestamp: number | undefined;
  readonly key: Buffer | null;
  /** null for a tombstone (no value in the event). Decoded from base64 on each read: read it once. */
  readonly value: Buffer | null;
  readonly headers: readonly KafkaHeader[];
  /**
   * Set when the entry's own topic or partition was present but unusable and the record was placed by its
   * `"<topic>-<partition>"` group instead: it is rejected with this reason, never summed.
   */
  readonly malformed?: string;
}

/**
 * A record entry without a usable topic, partition or offset. It cannot be keyed: with no (topic, partition,
 * offset) there is no row for it in rejected_transactions and no ledger offset to guard it, so it is skipped
 * and reported (the handler logs it with its group and index). Failing the invocation instead would make the
 * mapping retry the batch until its records expire, stalling every partition in it.
 */
export interface UndecodableRecord {
  /** The `"<topic>-<partition>"` key the entry was listed under. */
  readonly source: string;
  readonly index: number;
  readonly reason: string;
}

export interface DecodedEvent {
  readonly records: KafkaRecord[];
  readonly undecodable: UndecodableRecord[];
}

const EMPTY_HEADERS: readonly KafkaHeader[] = Object.freeze([]);

/**
 * Flattens an MSK event (records grouped by `"<topic>-<partition>"`, base64 key and value, headers as byte
 * arrays) into records. Never throws: an entry that cannot be decoded is reported in `undecodable`.
 */
export function decodeMskEvent(event: unknown): DecodedEvent {
  const records: KafkaRecord[] = [];
  const undecodable: UndecodableRecord[] = [];
  const groups = isObject(event) ? event.records : undefined;
  if (!isObject(groups)) return { records, undecodable };
  for (const source of Object.keys(groups)) {
    const entries = groups[source];
    if (!Array.isArray(entries)) {
      undecodable.push({ source, index: -1, reason: 'record group is not an array' });
      continue;
    }
    const fallback = parseSource(source);
    for (let index = 0; index < entries.length; index++) {
      const decoded = decodeRecord(entries[index], fallback);
      if (typeof decoded === 'string') undecodable.push({ source, index, reason: decoded });
      else records.push(decoded);
    }
  }
  return { records, undecodable };
}

function decodeRecord(entry: unknown, fallback: SourceKey | undefined): KafkaRecord | string {
  if (!isObject(entry)) return 'record is not an object';
  const { topic: ownTopic, partition: ownPartition, offset, timestamp } = entry;
  let topic: string | undefined;
  let partition: number | undefined;
  let malformed: string | undefined;
  if (isTopicName(ownTopic) && isPartition(ownPartition)) {
    topic = ownTopic;
    partition = ownPartition;
  } else {
    // The group names the same topic and partition; it stands in when the entry has none or an unusable one.
    topic = isTopicName(ownTopic) ? ownTopic : fallback?.topic;
    partition = isPartition(ownPartition) ? ownPartition : fallback?.partition;
    const problems: string[] = [];
    if (ownTopic !== undefined && !isTopicName(ownTopic)) {
      problems.push(`topic ${describe(ownTopic)} is not a valid Kafka topic name`);
    }
    if (ownPartition !== undefined && !isPartition(ownPartition)) {
      problems.push(`partition ${describe(ownPartition)} is not valid`);
    }
    if (topic === undefined || partition === undefined) {
      if (problems.length > 0) return `record ${problems.join(' and ')}`;
      return topic === undefined ? 'record has no topic' : 'record has no partition';
    }
    if (problems.length > 0) malformed = `record ${problems.join(' and ')}; kept under ${topic}-${partition}`;
  }
  if (!isNonNegativeInteger(offset)) return 'record has no valid offset';
  // Stored as bigint milliseconds: a fractional or out-of-range time would fail the batch's write.
  const time = Number.isSafeInteger(timestamp) ? (timestamp as number) : undefined;
  return malformed === undefined
    ? new DecodedRecord(topic, partition, offset, time, entry.value, entry.key, entry.headers)
    : new MalformedRecord(topic, partition, offset, time, entry.value, entry.key, entry.headers, malformed);
}

/**
 * Bytes are decoded when read, not up front. Only rejected records need key and headers, and keeping a decoded
 * value alive for every record of a 10,000-record batch doubles the garbage collector's work; the base64 text
 * is held by the event anyway.
 */
class DecodedRecord implements KafkaRecord {
  private decodedKey: Buffer | null | undefined;
  private decodedHeaders: readonly KafkaHeader[] | undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly offset: number,
    readonly timestamp: number | undefined,
    private readonly rawValue: unknown,
    private readonly rawKey: unknown,
    private readonly rawHeaders: unknown,
  ) {}

  get value(): Buffer | null {
    return decodeBase64(this.rawValue);
  }

  get key(): Buffer | null {
    if (this.decodedKey === undefined) this.decodedKey = decodeBase64(this.rawKey);
    return this.decodedKey;
  }

  get headers(): readonly KafkaHeader[] {
    if (this.decodedHeaders === undefined) {
      const raw = this.rawHeaders;
      this.decodedHeaders = Array.isArray(raw) && raw.length > 0 ? decodeHeaders(raw) : EMPTY_HEADERS;
    }
    return this.decodedHeaders;
  }
}

/** A subclass, so that the records of a well-formed event keep one small shape. */
class MalformedRecord extends DecodedRecord {
  constructor(
    topic: string,
    partition: number,
    offset: number,
    timestamp: number | undefined,
    rawValue: unknown,
    rawKey: unknown,
    rawHeaders: unknown,
    readonly malformed: string,
  ) {
    super(topic, partition, offset, timestamp, rawValue, rawKey, rawHeaders);
  }
}

/** Text safe for the reason column: short, and JSON-escaped, so a NUL or a lone surrogate cannot break it. */
function describe(value: unknown): string {
  if (typeof value === 'string') {
    return value.length > 60 ? `(a string of ${value.length} characters)` : JSON.stringify(value);
  }
  if (typeof value === 'number') return String(value);
  if (value === null) return 'null';
  return `(${Array.isArray(value) ? 'an array' : `a ${typeof value}`})`;
}

function decodeBase64(value: unknown): Buffer | null {
  return typeof value === 'string' ? Buffer.from(value, 'base64') : null;
}

/** MSK lists each header as a one-key object whose value is the header's bytes as an array of numbers. */
function decodeHeaders(raw: unknown[]): KafkaHeader[] {
  const headers: KafkaHeader[] = [];
  for (const header of raw) {
    if (!isObject(header)) continue;
    for (const key of Object.keys(header)) {
      const bytes = header[key];
      if (Array.isArray(bytes)) headers.push({ key, value: Buffer.from(bytes as number[]) });
    }
  }
  return headers;
}

interface SourceKey {
  readonly topic: string;
  readonly partition: number;
}

/** Topic names may contain '-', the partition never does: split at the last one. */
function parseSource(source: string): SourceKey | undefined {
  const dash = source.lastIndexOf('-');
  if (dash <= 0) return undefined;
  const digits = source.slice(dash + 1);
  const partition = Number(digits);
  const topic = source.slice(0, dash);
  return /^\d+$/.test(digits) && isPartition(partition) && isTopicName(topic)
    ? { topic, partition }
    : undefined;
}

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/**
 * Kafka's own rule for topic names. Anything else cannot come from a broker, and some of it cannot be stored
 * (PostgreSQL text and jsonb hold no NUL): such a record would fail every delivery of its batch.
 */
function isTopicName(value: unknown): value is string {
  // An event holds one topic or a few: remember the last good name rather than match it per record.
  if (value === lastTopicName) return true;
  if (typeof value !== 'string' || !TOPIC_NAME.test(value) || value === '.' || value === '..') return false;
  lastTopicName = value;
  return true;
}

let lastTopicName: string | undefined;

/** Kafka partitions are int32; the ledger column is integer. */
function isPartition(value: unknown): value is number {
  return isNonNegativeInteger(value) && value <= 2_147_483_647;
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
