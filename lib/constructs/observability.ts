import { ArnFormat, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as rds from 'aws-cdk-lib/aws-rds';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  AGGREGATOR_METRICS,
  CURRENCY_DIMENSION,
  METRICS_NAMESPACE,
  PRODUCER_METRICS,
  SERVICE,
} from '../../lambda/shared/metric-names';
import { EMAIL_ADDRESS } from '../config';

export interface ObservabilityProps {
  /** The producer function, graphed and alarmed on its errors and send failures. */
  readonly producer: lambda.IFunction;
  /** The aggregator function behind the MSK event source mapping. */
  readonly aggregator: lambda.IFunction;
  /** UUID of the aggregator's MSK event source mapping, for its per-mapping OffsetLag series. */
  readonly eventSourceMappingId: string;
  /** The Kafka topic the mapping reads, named in the OffsetLag alarm. */
  readonly topicName: string;
  /** MSK cluster name: the `Cluster Name` dimension of the AWS/Kafka metrics. */
  readonly clusterName: string;
  /** The RDS PostgreSQL instance holding the pipeline's tables. */
  readonly database: rds.IDatabaseInstance;
  /** Queues where failed events end up; each gets a depth graph and a not-empty alarm. */
  readonly deadLetterQueues: sqs.IQueue[];
  /** Records of unprocessed offset lag that, sustained for OFFSET_LAG_EVALUATION_PERIODS minutes, raise an alarm. */
  readonly offsetLagThreshold: number;
  /** Address subscribed to alarm notifications. @default - no subscription; subscribe to `alarmTopic` yourself */
  readonly alarmEmail?: string;
}

/** Powertools Metrics adds this dimension, with the function's service name, to every metric it emits. */
export const SERVICE_DIMENSION = 'service';

/** Consecutive one-minute periods OffsetLag must stay above the threshold before the alarm fires. */
export const OFFSET_LAG_EVALUATION_PERIODS = 5;

/** Average CPU above this, for RDS_CPU_EVALUATION_PERIODS five-minute periods, raises the database CPU alarm. */
export const RDS_CPU_ALARM_PERCENT = 80;
const RDS_CPU_EVALUATION_PERIODS = 3;

/** Free storage below this raises the database storage alarm: about 10 % of the default 20 GiB allocation. */
export const RDS_FREE_STORAGE_ALARM_BYTES = 2 * 1024 ** 3;

const ONE_MINUTE = Duration.minutes(1);
const FIVE_MINUTES = Duration.minutes(5);

/**
 * One CloudWatch dashboard for the whole pipeline and the alarms an operator must act on, all notifying one
 * KMS-encrypted SNS topic (on ALARM and on OK, so a recovery is announced too).
 */
export class ObservabilityConstruct extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;
  public readonly alarmTopic: sns.Topic;
  public readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    validateProps(props);

    const stack = Stack.of(this);
    this.alarmTopic = this.createAlarmTopic(stack);
    if (props.alarmEmail !== undefined) {
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    }

    const producerMetric = (metricName: string, statistic: string = cloudwatch.Stats.SUM) =>
      customMetric(SERVICE.producer, metricName, statistic);
    const aggregatorMetric = (metricName: string, statistic: string = cloudwatch.Stats.SUM) =>
      customMetric(SERVICE.aggregator, metricName, statistic);

    // Lambda has published OffsetLag per function since the metric was introduced; the aggregator has exactly
    // one mapping, so the function-level series is the mapping's lag and is safe to alarm on.
    const offsetLag = props.aggregator.metric('OffsetLag', {
      statistic: cloudwatch.Stats.MAXIMUM,
      period: ONE_MINUTE,
    });

    // Alarms first: the dashboard's status widget lists them. Descriptions state the window from the metric's
    // own period, so the text cannot drift from what the alarm evaluates.
    const producerErrors = props.producer.metricErrors({
      statistic: cloudwatch.Stats.SUM,
      period: FIVE_MINUTES,
    });
    this.addAlarm('ProducerErrors', {
      metric: producerErrors,
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // The producer only runs on its schedule; a period without invocations has no errors to report.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription:
        `The producer function failed at least once within ${span(producerErrors.period)}, so some ` +
        'scheduled batches of transactions were not generated. Check its log group for the error (Kafka ' +
        'authentication, TLS, broker reachability or timeouts are the usual causes); the next scheduled run ' +
        'retries on its own.',
    });

    const messagesFailed = producerMetric(PRODUCER_METRICS.messagesFailed);
    this.addAlarm('ProducerMessagesFailed', {
      metric: messagesFailed,
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // The metric is only emitted while the producer runs; no data means nothing was attempted, so nothing failed.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription:
        'Kafka did not acknowledge some messages the producer tried to send within ' +
        `${span(messagesFailed.period)} (the invocation itself may have succeeded). Look at the producer logs ` +
        'for the send errors and at the MSK broker graphs on the dashboard (CPU, disk) for a struggling cluster.',
    });

    this.addAlarm('AggregatorErrors', {
      metric: props.aggregator.metricErrors({ statistic: cloudwatch.Stats.SUM, period: ONE_MINUTE }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // Errors is reported for every invocation; a minute without data is a minute without batches, not a failure.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription:
        'The aggregator failed an invocation. The event source mapping retries the same batch until it succeeds ' +
        'or the records expire, so the affected partitions stop advancing (watch OffsetLag). Bad records are ' +
        'rejected, never thrown, so this is an infrastructure fault: check the aggregator logs for database ' +
        'connectivity, credentials or timeouts, and the RDS graphs on the dashboard.',
    });

    this.addAlarm('OffsetLag', {
      metric: offsetLag,
      threshold: props.offsetLagThreshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: OFFSET_LAG_EVALUATION_PERIODS,
      datapointsToAlarm: OFFSET_LAG_EVALUATION_PERIODS,
      // Lambda reports OffsetLag while the mapping polls, even at zero lag. No data means the mapping is
      // disabled or cannot reach the cluster: the alarm shows INSUFFICIENT_DATA rather than claiming all is well.
      treatMissingData: cloudwatch.TreatMissingData.MISSING,
      alarmDescription:
        `The aggregator has been more than ${props.offsetLagThreshold} records behind the "${props.topicName}" ` +
        `topic for ${span(offsetLag.period, OFFSET_LAG_EVALUATION_PERIODS)} in a row. Either it is failing ` +
        'and retrying (see the aggregator errors alarm), it is too slow (duration near the timeout, throttles, ' +
        'database CPU), or the producer rate outgrew the mapping. Fix errors first; otherwise raise the batch ' +
        'size, memory or concurrency.',
    });

    const recordsRejected = aggregatorMetric(AGGREGATOR_METRICS.recordsRejected);
    this.addAlarm('RecordsRejected', {
      metric: recordsRejected,
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // Emitted per processed batch; no batches means no rejections.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription:
        `The aggregator rejected at least one record within ${span(recordsRejected.period)} (bad JSON, ` +
        'wrong types, invalid currency or amount). Rejected records are kept, not summed: query the ' +
        'rejected_transactions table for the reason, topic, partition and offset, and fix the sender. The ' +
        'pipeline itself keeps running.',
    });

    props.deadLetterQueues.forEach((queue, index) => {
      this.addAlarm(`DeadLetterQueue${index + 1}NotEmpty`, {
        metric: queue.metricApproximateNumberOfMessagesVisible({
          statistic: cloudwatch.Stats.MAXIMUM,
          period: FIVE_MINUTES,
        }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        // SQS stops reporting a queue that has been empty and untouched for six hours; a queue that holds
        // messages keeps reporting, so missing data only ever means "empty".
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription:
          `Dead-letter queue ${queue.queueName} holds messages: events that failed every retry and were set ` +
          'aside. Read them (SQS console or aws sqs receive-message), find and fix the cause in the logs of the ' +
          'function that failed, then redrive or delete them. Messages expire after the queue retention period.',
      });
    });

    const databaseCpu = props.database.metricCPUUtilization({
      statistic: cloudwatch.Stats.AVERAGE,
      period: FIVE_MINUTES,
    });
    this.addAlarm('DatabaseCpuHigh', {
      metric: databaseCpu,
      threshold: RDS_CPU_ALARM_PERCENT,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: RDS_CPU_EVALUATION_PERIODS,
      // RDS reports CPU every minute while the instance runs. An unreachable database already fails the
      // aggregator (its errors alarm), so missing data is left as INSUFFICIENT_DATA, not counted as high CPU.
      treatMissingData: cloudwatch.TreatMissingData.MISSING,
      alarmDescription:
        `Database CPU has averaged above ${RDS_CPU_ALARM_PERCENT} % for ` +
        `${span(databaseCpu.period, RDS_CPU_EVALUATION_PERIODS)}. Aggregator batches will slow down and ` +
        'offset lag will grow. Check Performance Insights or pg_stat_activity for the expensive queries, and ' +
        'consider a larger instance class.',
    });

    this.addAlarm('DatabaseFreeStorageLow', {
      metric: props.database.metricFreeStorageSpace({
        statistic: cloudwatch.Stats.MINIMUM,
        period: FIVE_MINUTES,
      }),
      threshold: RDS_FREE_STORAGE_ALARM_BYTES,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // Same reasoning as the CPU alarm: no data is not "low storage", and an unreachable database is caught
      // by the aggregator errors alarm.
      treatMissingData: cloudwatch.TreatMissingData.MISSING,
      alarmDescription:
        `Database free storage is below ${RDS_FREE_STORAGE_ALARM_BYTES / 1024 ** 3} GiB. When it runs out, the ` +
        'instance stops accepting writes and the aggregator fails every batch. Increase the allocated storage ' +
        '(or its autoscaling maximum) and check what grows: transaction_flow and rejected_transactions.',
    });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `${stack.stackName}-pipeline`,
      defaultInterval: Duration.hours(3),
    });

    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 3 }),
    );

    this.dashboard.addWidgets(
      graph('Producer: messages', [
        producerMetric(PRODUCER_METRICS.messagesSent),
        producerMetric(PRODUCER_METRICS.messagesFailed),
      ]),
      graph('Producer: bytes sent', [producerMetric(PRODUCER_METRICS.bytesSent)]),
      graph('Producer: errors', [
        props.producer.metricErrors({ statistic: cloudwatch.Stats.SUM, period: ONE_MINUTE }),
      ]),
      graph('Producer: duration', [
        props.producer.metricDuration({
          statistic: cloudwatch.Stats.p(50),
          period: ONE_MINUTE,
          label: 'p50',
        }),
        props.producer.metricDuration({
          statistic: cloudwatch.Stats.p(99),
          period: ONE_MINUTE,
          label: 'p99',
        }),
        producerMetric(PRODUCER_METRICS.sendDuration, cloudwatch.Stats.p(99)),
      ]),
    );

    this.dashboard.addWidgets(
      graph('Aggregator: invocations, errors, throttles', [
        props.aggregator.metricInvocations({ statistic: cloudwatch.Stats.SUM, period: ONE_MINUTE }),
        props.aggregator.metricErrors({ statistic: cloudwatch.Stats.SUM, period: ONE_MINUTE }),
        props.aggregator.metricThrottles({ statistic: cloudwatch.Stats.SUM, period: ONE_MINUTE }),
      ]),
      graph('Aggregator: duration', [
        props.aggregator.metricDuration({
          statistic: cloudwatch.Stats.p(50),
          period: ONE_MINUTE,
          label: 'p50',
        }),
        props.aggregator.metricDuration({
          statistic: cloudwatch.Stats.p(99),
          period: ONE_MINUTE,
          label: 'p99',
        }),
        props.aggregator.metricDuration({
          statistic: cloudwatch.Stats.MAXIMUM,
          period: ONE_MINUTE,
          label: 'max',
        }),
      ]),
      graph('Aggregator: records', [
        aggregatorMetric(AGGREGATOR_METRICS.recordsAccepted),
        aggregatorMetric(AGGREGATOR_METRICS.recordsRejected),
        aggregatorMetric(AGGREGATOR_METRICS.recordsDeduplicated),
      ]),
      graph('Aggregator: batch latency', [
        aggregatorMetric(AGGREGATOR_METRICS.batchLatency, cloudwatch.Stats.p(50)),
        aggregatorMetric(AGGREGATOR_METRICS.batchLatency, cloudwatch.Stats.p(99)),
      ]),
    );

    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Event source mapping: offset lag (records)',
        width: 12,
        left: [
          offsetLag.with({ label: 'OffsetLag (function, max)' }),
          // Any series Lambda publishes for this mapping's UUID, whatever other dimensions come with it, beside
          // the function-level one. A SEARCH finds it without needing its exact dimension set, and draws nothing
          // (rather than failing the widget) when there is none.
          searchExpression(
            `Namespace="AWS/Lambda" MetricName="OffsetLag" EventSourceMappingUUID="${props.eventSourceMappingId}"`,
            cloudwatch.Stats.MAXIMUM,
            'OffsetLag (mapping)',
          ),
        ],
        leftAnnotations: [{ value: props.offsetLagThreshold, label: 'alarm threshold' }],
      }),
      new cloudwatch.GraphWidget({
        title: 'Net flow per currency (sum of accepted amounts)',
        width: 12,
        // A SEARCH over the Currency dimension instead of a fixed list: a currency the producer starts sending
        // appears here without a redeploy, and a configured list cannot drift from what is really flowing.
        left: [
          searchExpression(
            `{${METRICS_NAMESPACE},${CURRENCY_DIMENSION},${SERVICE_DIMENSION}} MetricName="${AGGREGATOR_METRICS.netAmount}" ${SERVICE_DIMENSION}="${SERVICE.aggregator}"`,
            cloudwatch.Stats.SUM,
            '',
          ),
        ],
      }),
    );

    // Per-broker series through SEARCH, so the graphs follow the cluster's real broker count.
    const brokerSearch = (metricName: string) =>
      searchExpression(
        `{AWS/Kafka,"Broker ID","Cluster Name"} MetricName="${metricName}" "Cluster Name"="${props.clusterName}"`,
        cloudwatch.Stats.AVERAGE,
        'Broker',
      );
    this.dashboard.addWidgets(
      graph('MSK: bytes in per broker (bytes/s)', [brokerSearch('BytesInPerSec')]),
      graph('MSK: bytes out per broker (bytes/s)', [brokerSearch('BytesOutPerSec')]),
      graph('MSK: CPU user per broker (%)', [brokerSearch('CpuUser')]),
      graph('MSK: data log disk used per broker (%)', [brokerSearch('KafkaDataLogsDiskUsed')]),
    );

    const rdsRow: cloudwatch.IWidget[] = [
      graph('Database: CPU (%)', [props.database.metricCPUUtilization({ period: ONE_MINUTE })], {
        value: RDS_CPU_ALARM_PERCENT,
        label: 'alarm threshold',
      }),
      graph('Database: connections', [props.database.metricDatabaseConnections({ period: ONE_MINUTE })]),
      graph(
        'Database: free storage (bytes)',
        [props.database.metricFreeStorageSpace({ statistic: cloudwatch.Stats.MINIMUM, period: ONE_MINUTE })],
        { value: RDS_FREE_STORAGE_ALARM_BYTES, label: 'alarm threshold' },
      ),
    ];
    if (props.deadLetterQueues.length > 0) {
      rdsRow.push(
        graph(
          'Dead-letter queues: visible messages',
          props.deadLetterQueues.map((queue) =>
            queue.metricApproximateNumberOfMessagesVisible({
              statistic: cloudwatch.Stats.MAXIMUM,
              period: ONE_MINUTE,
              label: queue.queueName,
            }),
          ),
        ),
      );
    }
    this.dashboard.addWidgets(...rdsRow);
  }

  private createAlarmTopic(stack: Stack): sns.Topic {
    // A customer-managed key because CloudWatch cannot publish to a topic encrypted with the AWS-managed
    // aws/sns key: that key's policy cannot grant the CloudWatch service principal.
    const key = new kms.Key(this, 'AlarmTopicKey', {
      description: 'Encrypts pipeline alarm notifications held by SNS',
      enableKeyRotation: true,
      // The key only protects notifications in flight; nothing stays encrypted under it after the stack goes.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToUseTheKey',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );

    const topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'Transaction pipeline alarms',
      masterKey: key,
      enforceSSL: true,
    });
    // enforceSSL attaches a topic policy, which replaces SNS's default policy; without this statement
    // CloudWatch alarms would be refused sns:Publish.
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': stack.formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    return topic;
  }

  private addAlarm(id: string, props: cloudwatch.AlarmProps): void {
    const alarm = new cloudwatch.Alarm(this, `${id}Alarm`, props);
    const action = new cloudwatchActions.SnsAction(this.alarmTopic);
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
    this.alarms.push(alarm);
  }
}

function validateProps(props: ObservabilityProps): void {
  const threshold = props.offsetLagThreshold;
  if (!Number.isInteger(threshold) || threshold <= 0) {
    throw new Error(
      `ObservabilityConstruct: offsetLagThreshold must be a positive integer number of records, got ${threshold}`,
    );
  }
  if (props.alarmEmail !== undefined && !Token.isUnresolved(props.alarmEmail)) {
    if (!EMAIL_ADDRESS.test(props.alarmEmail)) {
      throw new Error(
        `ObservabilityConstruct: alarmEmail must be an e-mail address like ops@example.com, got "${props.alarmEmail}"`,
      );
    }
  }
  for (const [name, value] of [
    ['eventSourceMappingId', props.eventSourceMappingId],
    ['clusterName', props.clusterName],
  ] as const) {
    if (!Token.isUnresolved(value) && value.trim() === '') {
      throw new Error(`ObservabilityConstruct: ${name} must not be empty`);
    }
  }
}

/** How long `periods` consecutive periods of `period` last, in words: "one minute", "15 minutes". */
function span(period: Duration, periods = 1): string {
  const minutes = period.toMinutes() * periods;
  return minutes === 1 ? 'one minute' : `${minutes} minutes`;
}

function customMetric(service: string, metricName: string, statistic: string): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { [SERVICE_DIMENSION]: service },
    statistic,
    period: ONE_MINUTE,
  });
}

function searchExpression(query: string, statistic: string, label: string): cloudwatch.SearchExpression {
  return new cloudwatch.SearchExpression({
    expression: `SEARCH('${query}', '${statistic}', ${ONE_MINUTE.toSeconds()})`,
    period: ONE_MINUTE,
    // CloudWatch prefixes each returned series' dimension values (broker, currency) with this label; an empty
    // one leaves just those values.
    label,
  });
}

function graph(
  title: string,
  metrics: cloudwatch.IMetric[],
  annotation?: cloudwatch.HorizontalAnnotation,
): cloudwatch.GraphWidget {
  return new cloudwatch.GraphWidget({
    title,
    width: 6,
    left: metrics,
    leftAnnotations: annotation ? [annotation] : undefined,
  });
}
