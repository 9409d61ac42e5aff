import { Duration, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

export interface DeadLetterQueueProps {
  /** What the queue is the last stop of, e.g. "dead-letter queue of the producer schedule". */
  readonly holds: string;
}

/**
 * Where a service sets aside events it gave up on: SQS-managed encryption, TLS only, and the longest retention
 * SQS allows, so an operator has two weeks to read and redrive them.
 */
export class DeadLetterQueue extends sqs.Queue {
  constructor(scope: Construct, id: string, props: DeadLetterQueueProps) {
    super(scope, id, {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: `This queue is itself the ${props.holds}; a queue behind it would only hold the same messages.`,
    });
  }
}
