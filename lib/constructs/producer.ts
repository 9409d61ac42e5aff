import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';
import { SERVICE } from '../../lambda/shared/metric-names';
import { DeadLetterQueue } from './dead-letter-queue';
import type { KafkaConstruct } from './kafka';
import type { NetworkConstruct } from './network';
import { invokeVersionsFinding, lambdaEntry, PipelineFunction } from './pipeline-function';

export interface ProducerProps {
  readonly network: NetworkConstruct;
  readonly kafka: KafkaConstruct;
  readonly topic: string;
  /** Messages per second of a scheduled run (`PRODUCER_RATE`). */
  readonly rate: number;
  /** Length of a scheduled run (`PRODUCER_DURATION_SECONDS`); must end well before `timeout`. */
  readonly durationSeconds: number;
  readonly timeout: Duration;
  readonly memorySize: number;
  /** @default - no reserved concurrency */
  readonly reservedConcurrency?: number;
  readonly branches?: readonly string[];
  readonly currencies?: readonly string[];
  readonly amountRange?: { readonly min: number; readonly max: number };
  readonly scheduleRate: Duration;
  readonly scheduleEnabled: boolean;
  readonly logRetention: logs.RetentionDays;
}

/**
 * The transaction generator: a function that writes paced messages to the topic for most of a minute, started
 * by an EventBridge Scheduler schedule with a bounded retry policy and a dead-letter queue for runs that could
 * not be delivered at all.
 */
export class ProducerConstruct extends Construct {
  public readonly function: PipelineFunction;
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly schedule: scheduler.Schedule;
  /** Schedule invocations that exhausted their retries. */
  public readonly deadLetterQueue: DeadLetterQueue;

  constructor(scope: Construct, id: string, props: ProducerProps) {
    super(scope, id);
    const { kafka } = props;

    const environment: Record<string, string> = {
      ...kafka.clientEnvironment(),
      KAFKA_BROKERS: kafka.bootstrapBrokers,
      KAFKA_TOPIC: props.topic,
      PRODUCER_RATE: String(props.rate),
      PRODUCER_DURATION_SECONDS: String(props.durationSeconds),
    };
    if (props.branches !== undefined) environment.PRODUCER_BRANCHES = props.branches.join(',');
    if (props.currencies !== undefined) environment.PRODUCER_CURRENCIES = props.currencies.join(',');
    if (props.amountRange !== undefined) {
      environment.PRODUCER_AMOUNT_MIN = String(props.amountRange.min);
      environment.PRODUCER_AMOUNT_MAX = String(props.amountRange.max);
    }

    this.function = new PipelineFunction(this, 'Function', {
      entry: lambdaEntry('producer'),
      description: 'Generates branch transactions and writes them to the MSK topic',
      serviceName: SERVICE.producer,
      network: props.network,
      securityGroupDescription: 'Producer: MSK and Secrets Manager only',
      secrets: [kafka.scramSecret],
      logRetention: props.logRetention,
      memorySize: props.memorySize,
      timeout: props.timeout,
      // One run at a time: a late or retried schedule event cannot double the message rate.
      reservedConcurrentExecutions: props.reservedConcurrency,
      environment,
    });
    this.securityGroup = this.function.securityGroup;
    kafka.connections.allowDefaultPortFrom(this.function, 'Producer');

    this.deadLetterQueue = new DeadLetterQueue(this, 'ScheduleDeadLetterQueue', {
      holds: 'dead-letter queue of the producer schedule',
    });

    // A run that could not start within one schedule period is superseded by the next one: retrying it later
    // would only overlap with it.
    const scheduleRole = new iam.Role(this, 'ScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      description:
        'EventBridge Scheduler: invoke the producer, send undeliverable runs to its dead-letter queue',
    });
    Validations.of(scheduleRole).acknowledge({
      id: invokeVersionsFinding(this.function),
      reason: 'The schedule may invoke the producer function (any of its versions) and nothing else.',
    });

    const maxEventAge = Duration.seconds(Math.max(60, props.scheduleRate.toSeconds()));
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      description: 'Starts a paced producer run',
      schedule: scheduler.ScheduleExpression.rate(props.scheduleRate),
      enabled: props.scheduleEnabled,
      target: new targets.LambdaInvoke(this.function, {
        role: scheduleRole,
        input: scheduler.ScheduleTargetInput.fromObject({ mode: 'paced' }),
        retryAttempts: 2,
        maxEventAge,
        deadLetterQueue: this.deadLetterQueue,
      }),
    });
  }
}
