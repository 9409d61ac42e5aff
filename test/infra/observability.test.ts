import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AGGREGATOR_METRICS,
  METRICS_NAMESPACE,
  PRODUCER_METRICS,
  SERVICE,
} from '../../lambda/shared/metric-names';
import {
  ObservabilityConstruct,
  type ObservabilityProps,
  OFFSET_LAG_EVALUATION_PERIODS,
  RDS_CPU_ALARM_PERCENT,
  RDS_FREE_STORAGE_ALARM_BYTES,
} from '../../lib/constructs/observability';

const CLUSTER_NAME = 'transaction-cluster';
const OFFSET_LAG_THRESHOLD = 5000;
const TOPIC_NAME = 'branch-transactions';

interface Fixture {
  readonly stack: Stack;
  readonly construct: ObservabilityConstruct;
  readonly ids: {
    readonly producer: string;
    readonly aggregator: string;
    readonly mapping: string;
    readonly database: string;
    readonly dlqs: string[];
    readonly topic: string;
  };
}

/** Stand-ins for what the pipeline stack passes in; only their identities matter here. */
function buildFixture(overrides: Partial<ObservabilityProps> = {}): Fixture {
  const app = new App();
  const stack = new Stack(app, 'ObservabilityTest');
  const fn = (id: string) =>
    new lambda.Function(stack, id, {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => ({});'),
    });
  const producer = fn('Producer');
  const aggregator = fn('Aggregator');
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    maxAzs: 2,
    natGateways: 0,
    subnetConfiguration: [{ name: 'db', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
  });
  const database = new rds.DatabaseInstance(stack, 'Database', {
    engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16 }),
    vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    storageEncrypted: true,
  });
  const dlqs = [new sqs.Queue(stack, 'AggregatorDlq'), new sqs.Queue(stack, 'ProducerDlq')];
  // Any mapping will do: the construct only needs its UUID, which is a deploy-time token like the real one.
  const mapping = new lambda.EventSourceMapping(stack, 'Mapping', {
    target: aggregator,
    eventSourceArn: dlqs[0]?.queueArn,
  });

  const construct = new ObservabilityConstruct(stack, 'Observability', {
    producer,
    aggregator,
    eventSourceMappingId: mapping.eventSourceMappingId,
    clusterName: CLUSTER_NAME,
    database,
    deadLetterQueues: dlqs,
    offsetLagThreshold: OFFSET_LAG_THRESHOLD,
    topicName: TOPIC_NAME,
    ...overrides,
  });

  const logicalId = (resource: Construct) => stack.getLogicalId(resource.node.defaultChild as CfnElement);
  return {
    stack,
    construct,
    ids: {
      producer: logicalId(producer),
      aggregator: logicalId(aggregator),
      mapping: logicalId(mapping),
      database: logicalId(database),
      dlqs: dlqs.map(logicalId),
      topic: logicalId(construct.alarmTopic),
    },
  };
}

/** DashboardBody is an Fn::Join of literal JSON and references; references become `<Ref:Id>` / `<Id.Attr>`. */
function flattenJoin(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (value !== null && typeof value === 'object') {
    const token = value as Record<string, unknown>;
    if ('Fn::Join' in token) {
      const [separator, parts] = token['Fn::Join'] as [string, unknown[]];
      return parts.map(flattenJoin).join(separator);
    }
    if ('Ref' in token) return `<Ref:${String(token.Ref)}>`;
    if ('Fn::GetAtt' in token) return `<${(token['Fn::GetAtt'] as string[]).join('.')}>`;
  }
  throw new Error(`Unexpected value in DashboardBody: ${JSON.stringify(value)}`);
}

type MetricRow = unknown[];
interface Widget {
  type: string;
  properties: { title?: string; metrics?: MetricRow[]; alarms?: string[] };
}

function dashboardWidgets(template: Template): Widget[] {
  const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  expect(dashboards).toHaveLength(1);
  const body = flattenJoin(dashboards[0]?.Properties.DashboardBody);
  return (JSON.parse(body) as { widgets: Widget[] }).widgets;
}

/** A metric row starts with namespace, name and dimension pairs; a trailing object holds its options. */
function rowStartsWith(row: MetricRow, expected: unknown[]): boolean {
  return expected.every((part, index) => row[index] === part);
}

function rowOptions(row: MetricRow): Record<string, unknown> {
  const last = row[row.length - 1];
  return last !== null && typeof last === 'object' ? (last as Record<string, unknown>) : {};
}

describe('ObservabilityConstruct', () => {
  let fixture: Fixture;
  let template: Template;
  let widgets: Widget[];
  let rows: MetricRow[];
  let expressions: string[];

  beforeAll(() => {
    fixture = buildFixture();
    template = Template.fromStack(fixture.stack);
    widgets = dashboardWidgets(template);
    rows = widgets.flatMap((widget) => widget.properties.metrics ?? []);
    expressions = rows
      .map((row) => rowOptions(row).expression)
      .filter((e): e is string => typeof e === 'string');
  });

  describe('dashboard', () => {
    it('graphs the producer custom metrics with the Powertools service dimension', () => {
      for (const name of [
        PRODUCER_METRICS.messagesSent,
        PRODUCER_METRICS.messagesFailed,
        PRODUCER_METRICS.bytesSent,
      ]) {
        const row = rows.find((r) =>
          rowStartsWith(r, [METRICS_NAMESPACE, name, 'service', SERVICE.producer]),
        );
        expect(row, name).toBeDefined();
        expect(rowOptions(row ?? []).stat).toBe('Sum');
      }
    });

    it('graphs producer Lambda errors and duration p50 / p99', () => {
      const producerRows = rows.filter(
        (r) => r[0] === 'AWS/Lambda' && r[3] === `<Ref:${fixture.ids.producer}>`,
      );
      expect(producerRows.some((r) => r[1] === 'Errors')).toBe(true);
      const durationStats = producerRows.filter((r) => r[1] === 'Duration').map((r) => rowOptions(r).stat);
      expect(durationStats).toEqual(expect.arrayContaining(['p50', 'p99']));
    });

    it('graphs aggregator invocations, errors, duration, throttles and record outcomes', () => {
      const aggregatorRef = `<Ref:${fixture.ids.aggregator}>`;
      for (const name of ['Invocations', 'Errors', 'Duration', 'Throttles']) {
        expect(
          rows.some((r) => rowStartsWith(r, ['AWS/Lambda', name, 'FunctionName', aggregatorRef])),
          name,
        ).toBe(true);
      }
      for (const name of [
        AGGREGATOR_METRICS.recordsAccepted,
        AGGREGATOR_METRICS.recordsRejected,
        AGGREGATOR_METRICS.recordsDeduplicated,
      ]) {
        expect(
          rows.some((r) => rowStartsWith(r, [METRICS_NAMESPACE, name, 'service', SERVICE.aggregator])),
          name,
        ).toBe(true);
      }
    });

    it('graphs OffsetLag for the aggregator and for the mapping UUID', () => {
      const functionLevel = rows.find((r) =>
        rowStartsWith(r, ['AWS/Lambda', 'OffsetLag', 'FunctionName', `<Ref:${fixture.ids.aggregator}>`]),
      );
      expect(rowOptions(functionLevel ?? []).stat).toBe('Maximum');
      const perMapping = expressions.find((e) => e.includes('MetricName="OffsetLag"'));
      expect(perMapping).toContain(`EventSourceMappingUUID="<Ref:${fixture.ids.mapping}>"`);
      expect(perMapping).toMatch(/^SEARCH\('.*', 'Maximum', 60\)$/);
    });

    it('graphs net flow for every currency through a SEARCH over the Currency dimension', () => {
      const netFlow = expressions.find((e) => e.includes(`MetricName="${AGGREGATOR_METRICS.netAmount}"`));
      expect(netFlow).toBe(
        `SEARCH('{${METRICS_NAMESPACE},Currency,service} MetricName="NetAmount" service="${SERVICE.aggregator}"', 'Sum', 60)`,
      );
    });

    it('graphs MSK broker metrics per broker of the named cluster', () => {
      for (const name of ['BytesInPerSec', 'BytesOutPerSec', 'CpuUser', 'KafkaDataLogsDiskUsed']) {
        expect(expressions, name).toContain(
          `SEARCH('{AWS/Kafka,"Broker ID","Cluster Name"} MetricName="${name}" "Cluster Name"="${CLUSTER_NAME}"', 'Average', 60)`,
        );
      }
    });

    it('graphs the database CPU, connections and free storage', () => {
      const databaseRef = `<Ref:${fixture.ids.database}>`;
      for (const name of ['CPUUtilization', 'DatabaseConnections', 'FreeStorageSpace']) {
        expect(
          rows.some((r) => rowStartsWith(r, ['AWS/RDS', name, 'DBInstanceIdentifier', databaseRef])),
          name,
        ).toBe(true);
      }
    });

    it('graphs the depth of every dead-letter queue', () => {
      for (const dlq of fixture.ids.dlqs) {
        expect(
          rows.some((r) =>
            rowStartsWith(r, [
              'AWS/SQS',
              'ApproximateNumberOfMessagesVisible',
              'QueueName',
              `<${dlq}.QueueName>`,
            ]),
          ),
          dlq,
        ).toBe(true);
      }
    });

    it('shows the state of every alarm', () => {
      const statusWidget = widgets.find((w) => w.type === 'alarm');
      const alarmIds = Object.keys(template.findResources('AWS::CloudWatch::Alarm'));
      expect(statusWidget?.properties.alarms?.sort()).toEqual(alarmIds.map((id) => `<${id}.Arn>`).sort());
    });
  });

  describe('alarms', () => {
    const topicRef = () => [{ Ref: fixture.ids.topic }];

    function expectAlarm(properties: Record<string, unknown>): void {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        ...properties,
        AlarmActions: topicRef(),
        OKActions: topicRef(),
      });
    }

    it('alarms on any aggregator error', () => {
      expectAlarm({
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: fixture.ids.aggregator } }],
        Statistic: 'Sum',
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
      });
    });

    it('alarms on offset lag above the threshold for several consecutive minutes', () => {
      expectAlarm({
        Namespace: 'AWS/Lambda',
        MetricName: 'OffsetLag',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: fixture.ids.aggregator } }],
        Statistic: 'Maximum',
        Period: 60,
        Threshold: OFFSET_LAG_THRESHOLD,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: OFFSET_LAG_EVALUATION_PERIODS,
        DatapointsToAlarm: OFFSET_LAG_EVALUATION_PERIODS,
        TreatMissingData: 'missing',
      });
      expect(OFFSET_LAG_EVALUATION_PERIODS).toBeGreaterThan(1);
    });

    it('names the topic the mapping reads in the offset lag alarm', () => {
      const [offsetLag] = Object.values(
        template.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: 'OffsetLag' } }),
      );

      const description = flattenJoin(offsetLag?.Properties.AlarmDescription);
      expect(description).toContain(`"${TOPIC_NAME}" topic`);
      expect(description).not.toContain('"transaction"');
    });

    it('states in each description the window the alarm really evaluates', () => {
      const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
      let stated = 0;
      for (const alarm of alarms) {
        const { AlarmDescription, Period, EvaluationPeriods } = alarm.Properties;
        const windowMinutes = (Period * EvaluationPeriods) / 60;
        for (const [, count, unit] of flattenJoin(AlarmDescription).matchAll(/\b(\d+|one) (minutes?)\b/g)) {
          const minutes = count === 'one' ? 1 : Number(count);
          expect(`${minutes} ${unit}`, flattenJoin(AlarmDescription)).toBe(
            `${windowMinutes} ${windowMinutes === 1 ? 'minute' : 'minutes'}`,
          );
          stated += 1;
        }
      }
      // Producer errors and send failures, offset lag, rejected records and database CPU name their window.
      expect(stated).toBe(5);
    });

    it('alarms on any rejected record', () => {
      expectAlarm({
        Namespace: METRICS_NAMESPACE,
        MetricName: AGGREGATOR_METRICS.recordsRejected,
        Dimensions: [{ Name: 'service', Value: SERVICE.aggregator }],
        Statistic: 'Sum',
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      });
    });

    it('alarms when any dead-letter queue holds a message', () => {
      for (const dlq of fixture.ids.dlqs) {
        expectAlarm({
          Namespace: 'AWS/SQS',
          MetricName: 'ApproximateNumberOfMessagesVisible',
          Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq, 'QueueName'] } }],
          Threshold: 0,
          ComparisonOperator: 'GreaterThanThreshold',
          TreatMissingData: 'notBreaching',
        });
      }
    });

    it('alarms on producer errors and on messages Kafka did not acknowledge', () => {
      expectAlarm({
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: fixture.ids.producer } }],
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      });
      expectAlarm({
        Namespace: METRICS_NAMESPACE,
        MetricName: PRODUCER_METRICS.messagesFailed,
        Dimensions: [{ Name: 'service', Value: SERVICE.producer }],
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      });
    });

    it('alarms on high database CPU and low free storage', () => {
      const dimensions = [{ Name: 'DBInstanceIdentifier', Value: { Ref: fixture.ids.database } }];
      expectAlarm({
        Namespace: 'AWS/RDS',
        MetricName: 'CPUUtilization',
        Dimensions: dimensions,
        Threshold: RDS_CPU_ALARM_PERCENT,
        ComparisonOperator: 'GreaterThanThreshold',
      });
      expectAlarm({
        Namespace: 'AWS/RDS',
        MetricName: 'FreeStorageSpace',
        Dimensions: dimensions,
        Threshold: RDS_FREE_STORAGE_ALARM_BYTES,
        ComparisonOperator: 'LessThanThreshold',
      });
    });

    it('creates exactly these alarms, each explained and notifying the topic on alarm and recovery', () => {
      const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
      // Producer errors, producer send failures, aggregator errors, offset lag, rejected records,
      // database CPU, database storage, and one per dead-letter queue.
      expect(alarms).toHaveLength(7 + fixture.ids.dlqs.length);
      expect(fixture.construct.alarms).toHaveLength(alarms.length);
      for (const alarm of alarms) {
        expect(alarm.Properties.AlarmActions).toEqual(topicRef());
        expect(alarm.Properties.OKActions).toEqual(topicRef());
        expect(alarm.Properties.TreatMissingData).toMatch(/^(notBreaching|missing)$/);
        // What it means and what to do takes more than a name.
        expect(flattenJoin(alarm.Properties.AlarmDescription).length).toBeGreaterThan(120);
      }
    });
  });

  describe('alarm topic', () => {
    it('is encrypted with a rotating customer-managed key that CloudWatch may use', () => {
      const keys = template.findResources('AWS::KMS::Key');
      const keyId = Object.keys(keys).find((id) => id.startsWith('ObservabilityAlarmTopicKey'));
      expect(keyId).toBeDefined();
      template.hasResourceProperties('AWS::SNS::Topic', {
        KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
      });
      expect(keys[keyId ?? '']?.Properties.EnableKeyRotation).toBe(true);
      expect(keys[keyId ?? '']?.Properties.KeyPolicy.Statement).toContainEqual(
        expect.objectContaining({
          Effect: 'Allow',
          Principal: { Service: 'cloudwatch.amazonaws.com' },
          Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        }),
      );
    });

    it('refuses publishing without TLS yet lets this account’s alarms publish', () => {
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        Topics: [{ Ref: fixture.ids.topic }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 'sns:Publish',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
            Match.objectLike({
              Effect: 'Allow',
              Action: 'sns:Publish',
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Condition: Match.objectLike({
                StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
              }),
            }),
          ]),
        },
      });
    });

    it('has no subscription unless an alarm e-mail is given', () => {
      template.resourceCountIs('AWS::SNS::Subscription', 0);
    });

    it('subscribes the alarm e-mail when given', () => {
      const withEmail = buildFixture({ alarmEmail: 'ops@example.com' });
      const emailTemplate = Template.fromStack(withEmail.stack);
      emailTemplate.resourceCountIs('AWS::SNS::Subscription', 1);
      emailTemplate.hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'email',
        Endpoint: 'ops@example.com',
        TopicArn: { Ref: withEmail.ids.topic },
      });
    });
  });

  describe('input validation', () => {
    it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])(
      'rejects offsetLagThreshold %s, naming it',
      (offsetLagThreshold) => {
        expect(() => buildFixture({ offsetLagThreshold })).toThrow(
          /offsetLagThreshold must be a positive integer/,
        );
      },
    );

    it.each(['', 'ops', 'ops@', 'ops@example', 'two words@example.com'])(
      'rejects alarmEmail %j, naming it',
      (alarmEmail) => {
        expect(() => buildFixture({ alarmEmail })).toThrow(/alarmEmail must be an e-mail address/);
      },
    );

    it.each(['eventSourceMappingId', 'clusterName'] as const)('rejects an empty %s, naming it', (name) => {
      expect(() => buildFixture({ [name]: ' ' })).toThrow(new RegExp(`${name} must not be empty`));
    });
  });
});
