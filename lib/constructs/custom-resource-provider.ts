import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import type { Construct } from 'constructs';
import { invokeVersionsFinding } from './pipeline-function';

export interface CustomResourceProviderProps {
  /** The handler that does the work (a PipelineFunction in the VPC). */
  readonly onEventHandler: lambda.IFunction;
  /** Retention of the framework function's log group. */
  readonly logRetention: logs.RetentionDays;
}

/**
 * The Provider framework for one of the pipeline's custom resources, with a log group that has retention and
 * goes with the stack, and its cdk-nag findings acknowledged.
 */
export class CustomResourceProvider extends cr.Provider {
  constructor(scope: Construct, id: string, props: CustomResourceProviderProps) {
    super(scope, id, {
      onEventHandler: props.onEventHandler,
      logGroup: new logs.LogGroup(scope, `${id}Logs`, {
        retention: props.logRetention,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });

    // The framework's own function is CDK's code and only relays events to the onEvent handler, from outside
    // the VPC; what it runs and may do is fixed by the framework.
    Validations.of(this.node.findChild('framework-onEvent')).acknowledge(
      {
        id: invokeVersionsFinding(props.onEventHandler),
        reason:
          'The framework may invoke the onEvent handler it was built for (any version), no other function.',
      },
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason:
          'aws-cdk-lib gives the Provider framework function the basic execution role (its own logs only).',
      },
    );
  }
}
