/**
 * CloudWatch names shared by the functions that emit metrics and the dashboard and alarms that read them:
 * one place, so a rename cannot silently break an alarm.
 */
export const METRICS_NAMESPACE = 'TransactionPipeline';

export const SERVICE = {
  producer: 'producer',
  aggregator: 'aggregator',
} as const;

export const PRODUCER_METRICS = {
  messagesSent: 'MessagesSent',
  messagesFailed: 'MessagesFailed',
  bytesSent: 'BytesSent',
  sendDuration: 'SendDuration',
} as const;

export const AGGREGATOR_METRICS = {
  recordsAccepted: 'RecordsAccepted',
  recordsRejected: 'RecordsRejected',
  recordsDeduplicated: 'RecordsDeduplicated',
  batchLatency: 'BatchLatency',
  /** Net accepted amount per batch, with dimension `Currency`. */
  netAmount: 'NetAmount',
} as const;

export const CURRENCY_DIMENSION = 'Currency';
