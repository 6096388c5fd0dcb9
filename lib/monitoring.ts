import { Duration, Stack } from 'aws-cdk-lib';
import type { WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import type { IAlarmAction, IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  MathExpression,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import {
  AUTHORIZER_SERVICE,
  AuthorizerMetrics,
  LaneMetrics,
  LANES_SERVICE,
  MESSAGE_TYPE_DIMENSION,
  METRICS_NAMESPACE,
  NotificationMetrics,
  NOTIFICATIONS_SERVICE,
  REFUSAL_REASON_DIMENSION,
  WEBSOCKET_SERVICE,
  WebSocketMetrics,
} from '../lambdas/rohrpost/deploy';

/** How `RohrpostWebSocket` is watched: its alarms, their thresholds, and its dashboard. */
export interface MonitoringProps {
  /** Where the alarms notify, e.g. an SNS topic action. @default no action */
  readonly alarmAction?: IAlarmAction;
  /**
   * The CloudWatch namespace of the functions' metrics, which the alarms and the dashboard read:
   * one per deployment, so that two stacks in an account do not add up each other's figures.
   * @default 'rohrpost/' and the stack's name
   */
  readonly metricsNamespace?: string;
  /**
   * The failed-records alarm fires when this many stream records fail in a minute (they are
   * being retried, long before the dead-letter queue sees them); `false` turns it off. @default 1
   */
  readonly failedRecordsAlarm?: number | false;
  /**
   * The notification latency alarm fires when the slowest change of 5 minutes took longer than
   * this to reach its last member; `false` turns it off. @default Duration.seconds(10)
   */
  readonly notificationLatencyAlarm?: Duration | false;
  /**
   * The notification lag alarm fires when the notification function is this far behind the
   * table changes (the stream's iterator age); `false` turns it off.
   * @default half of the configuration's `notifications.maxRecordAgeSeconds`
   */
  readonly notificationLagAlarm?: Duration | false;
  /**
   * The handler errors alarm fires when handlers fail this many times in 5 minutes (each
   * client got an internal error; no Lambda error is recorded); `false` turns it off. @default 1
   */
  readonly handlerErrorsAlarm?: number | false;
  /** Each function's errors alarm fires at this many errors in 5 minutes; `false` turns them off. @default 1 */
  readonly functionErrorsAlarm?: number | false;
  /** Each function's throttles alarm fires at this many throttles in 5 minutes; `false` turns them off. @default 1 */
  readonly functionThrottlesAlarm?: number | false;
  /** The dead-letter alarm fires when the dead-letter queue holds a message; `false` turns it off. @default true */
  readonly deadLetterAlarm?: boolean;
  /**
   * The lane lag alarm fires when the oldest job in the lanes' queue is this old: big groups'
   * messages wait that long for a worker; `false` turns it off. @default Duration.minutes(1)
   */
  readonly laneLagAlarm?: Duration | false;
  /** A CloudWatch dashboard of the API, the functions and the notifications. @default true */
  readonly dashboard?: boolean;
}

/** What the dashboard shows. */
export interface DashboardParts {
  readonly api: WebSocketApi;
  readonly stage: WebSocketStage;
  readonly functions: readonly LambdaFunction[];
  /** Whether there is a notification function, whose figures get their own row. */
  readonly notifications: boolean;
  /** Whether there is an authorizer, whose refusals by reason get a graph. */
  readonly authorizer: boolean;
  /** Whether big groups have lanes, whose throughput and throttling get a row. */
  readonly lanes: boolean;
}

const MINUTE = Duration.minutes(1);
const FIVE_MINUTES = Duration.minutes(5);

/**
 * The alarms and the dashboard of a `RohrpostWebSocket`, created in its scope so that their
 * ids are the construct's own. Each alarm has a prop that sets its threshold or turns it off.
 */
export class Monitoring {
  readonly alarms: Alarm[] = [];
  /** The CloudWatch namespace of the functions' metrics. */
  readonly namespace: string;

  constructor(
    private readonly scope: Construct,
    private readonly props: MonitoringProps,
  ) {
    this.namespace = props.metricsNamespace ?? `${METRICS_NAMESPACE}/${Stack.of(scope).stackName}`;
  }

  /** Alarms on a function's throttles and, unless its errors include what it is meant to do, on its errors. */
  watchFunction(id: string, fn: LambdaFunction, options: { errors: boolean } = { errors: true }): void {
    if (options.errors) {
      this.alarm(
        `${id}ErrorsAlarm`,
        fn.metricErrors({ period: FIVE_MINUTES }),
        this.props.functionErrorsAlarm ?? 1,
        `The ${id} function failed.`,
      );
    }
    this.alarm(
      `${id}ThrottlesAlarm`,
      fn.metricThrottles({ period: FIVE_MINUTES }),
      this.props.functionThrottlesAlarm ?? 1,
      `The ${id} function was throttled.`,
    );
  }

  /**
   * The authorizer throws API Gateway's `Unauthorized` for every refused token, which Lambda
   * counts as an error: a client with an expired token is routine. Its alarm watches real
   * failures instead: the checks it could not make (counted by the function), plus errors beyond
   * its refusals (a crash, a timeout).
   */
  watchAuthorizer(fn: LambdaFunction): void {
    const period = FIVE_MINUTES;
    this.alarm(
      'AuthorizerFailuresAlarm',
      new MathExpression({
        expression:
          'FILL(failures, 0) + IF(FILL(errors, 0) > FILL(refused, 0), FILL(errors, 0) - FILL(refused, 0), 0)',
        usingMetrics: {
          failures: this.functionMetric(
            AUTHORIZER_SERVICE,
            AuthorizerMetrics.authorizerFailures,
            'Sum',
            period,
          ),
          errors: fn.metricErrors({ period }),
          refused: this.functionMetric(
            AUTHORIZER_SERVICE,
            AuthorizerMetrics.connectionsRefused,
            'Sum',
            period,
          ),
        },
        label: 'Authorizer failures',
        period,
      }),
      this.props.functionErrorsAlarm ?? 1,
      "The authorizer could not check connections (the issuer's keys unreachable, an exception, a crash) and refused them: read its errors.",
    );
  }

  /** A handler's failure is answered, so it is no Lambda error: the websocket function counts it. */
  watchHandlers(): void {
    this.alarm(
      'HandlerErrorsAlarm',
      this.functionMetric(WEBSOCKET_SERVICE, WebSocketMetrics.handlerErrors, 'Sum', FIVE_MINUTES),
      this.props.handlerErrorsAlarm ?? 1,
      "Message handlers fail and clients get internal errors: read the websocket function's errors.",
    );
  }

  watchDeadLetters(queue: Queue): void {
    this.alarm(
      'DeadLetterAlarm',
      queue.metricApproximateNumberOfMessagesVisible(),
      this.props.deadLetterAlarm === false ? false : 1,
      'A stream batch failed every retry: inspect the dead-letter queue.',
    );
  }

  /**
   * Alarms on the lanes of big groups: jobs waiting too long for a worker (the workers cannot
   * keep up, or a lane keeps failing), and jobs that failed every receive.
   */
  watchLanes(queue: Queue, deadLetters: Queue): void {
    const lagLimit = this.props.laneLagAlarm ?? Duration.minutes(1);
    this.alarm(
      'LaneLagAlarm',
      queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: MINUTE }),
      lagLimit && lagLimit.toSeconds(),
      `A big group's message waited over ${lagLimit && lagLimit.toHumanString()} for its lane: read the lane worker's logs.`,
    );
    this.alarm(
      'LaneDeadLetterAlarm',
      deadLetters.metricApproximateNumberOfMessagesVisible(),
      this.props.deadLetterAlarm === false ? false : 1,
      "A lane job failed every receive: its lane's members recover what they missed; inspect the lanes' dead-letter queue.",
    );
  }

  /** Alarms on records that fail (and are retried), on slow notifications, and on a lagging stream. */
  watchNotifications(fn: LambdaFunction, maxRecordAgeSeconds: number): void {
    // A record reported as a batch item failure is no Lambda error: the function counts it.
    this.alarm(
      'FailedRecordsAlarm',
      this.notificationMetric(NotificationMetrics.recordsFailed, 'Sum', MINUTE),
      this.props.failedRecordsAlarm ?? 1,
      "Table changes fail to notify and are being retried: read the notification function's errors.",
    );
    const latencyLimit = this.props.notificationLatencyAlarm ?? Duration.seconds(10);
    this.alarm(
      'NotificationLatencyAlarm',
      this.notificationMetric(NotificationMetrics.lastPostLatency, 'Maximum', FIVE_MINUTES),
      latencyLimit && latencyLimit.toMilliseconds(),
      `A table change took over ${latencyLimit && latencyLimit.toHumanString()} to reach its subscribers.`,
    );
    const lagLimit = this.props.notificationLagAlarm ?? Duration.seconds(maxRecordAgeSeconds / 2);
    this.alarm(
      'NotificationLagAlarm',
      fn.metric('IteratorAge', { statistic: 'Maximum', period: MINUTE }),
      lagLimit && lagLimit.toMilliseconds(),
      `Notifications lag over ${lagLimit && lagLimit.toHumanString()} behind the table changes.`,
    );
  }

  /**
   * What an on-call engineer looks at first: traffic, the functions, the notifications, the
   * alarms; `undefined` when the `dashboard` prop turns it off. Create it after the alarms.
   */
  createDashboard(parts: DashboardParts): Dashboard | undefined {
    if (this.props.dashboard === false) return undefined;
    const dashboard = new Dashboard(this.scope, 'Dashboard');
    const stageMetric = (metricName: string, statistic: string) =>
      new Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiId: parts.api.apiId, Stage: parts.stage.stageName },
        statistic,
        period: MINUTE,
      });
    const { functions } = parts;
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Connections and messages',
        left: [stageMetric('ConnectCount', 'Sum'), stageMetric('MessageCount', 'Sum')],
        right: [stageMetric('ClientError', 'Sum'), stageMetric('IntegrationError', 'Sum')],
      }),
      new GraphWidget({
        title: 'Messages and handler errors by type',
        left: [this.byMessageType(WebSocketMetrics.messagesHandled)],
        right: [this.byMessageType(WebSocketMetrics.handlerErrors)],
      }),
      new GraphWidget({
        title: 'Function errors and throttles',
        left: functions.map((fn) => fn.metricErrors({ period: MINUTE })),
        right: functions.map((fn) => fn.metricThrottles({ period: MINUTE })),
      }),
      new GraphWidget({
        title: 'Function duration (p99)',
        left: functions.map((fn) => fn.metricDuration({ period: MINUTE, statistic: 'p99' })),
      }),
    );
    if (parts.notifications) {
      const sum = (metricName: string) => this.notificationMetric(metricName, 'Sum', MINUTE);
      dashboard.addWidgets(
        new GraphWidget({
          title: 'Stream records',
          left: [
            sum(NotificationMetrics.recordsReceived),
            sum(NotificationMetrics.recordsFailed),
            sum(NotificationMetrics.recordsDeadLettered),
          ],
        }),
        new GraphWidget({
          title: 'Notifications and posts to members',
          left: [
            sum(NotificationMetrics.notificationsSent),
            sum(NotificationMetrics.postsDelivered),
            sum(NotificationMetrics.postsGone),
          ],
          right: [sum(NotificationMetrics.postsThrottled), sum(NotificationMetrics.postsFailed)],
        }),
        new GraphWidget({
          title: 'Change to first and last post (ms)',
          left: [
            this.notificationMetric(NotificationMetrics.firstPostLatency, 'p50', MINUTE),
            ...['p50', 'p99', 'Maximum'].map((statistic) =>
              this.notificationMetric(NotificationMetrics.lastPostLatency, statistic, MINUTE),
            ),
          ],
        }),
      );
    }
    if (parts.lanes) {
      const lane = (metricName: string) => this.functionMetric(LANES_SERVICE, metricName, 'Sum', MINUTE);
      dashboard.addWidgets(
        new GraphWidget({
          title: "Big groups' lanes: messages and posts",
          left: [
            lane(LaneMetrics.messagesSent),
            lane(LaneMetrics.postsDelivered),
            lane(LaneMetrics.postsGone),
          ],
          right: [lane(LaneMetrics.lanesRun), lane(LaneMetrics.laneFailures), lane(LaneMetrics.splits)],
        }),
        new GraphWidget({
          title: 'Posts throttled (429 after the retries) and failed',
          left: [
            lane(LaneMetrics.postsThrottled),
            this.notificationMetric(NotificationMetrics.postsThrottled, 'Sum', MINUTE),
          ],
          right: [
            lane(LaneMetrics.postsFailed),
            this.notificationMetric(NotificationMetrics.postsFailed, 'Sum', MINUTE),
          ],
        }),
      );
    }
    if (parts.authorizer) {
      const schema = `{"${this.namespace}",service,${REFUSAL_REASON_DIMENSION}}`;
      dashboard.addWidgets(
        new GraphWidget({
          title: 'Connections allowed, refused by reason, and authorizer failures',
          left: [
            this.functionMetric(AUTHORIZER_SERVICE, AuthorizerMetrics.connectionsAllowed, 'Sum', MINUTE),
            new MathExpression({
              expression: `SEARCH('${schema} service="${AUTHORIZER_SERVICE}" MetricName="${AuthorizerMetrics.connectionsRefused}"', 'Sum', 60)`,
              usingMetrics: {},
              label: AuthorizerMetrics.connectionsRefused,
              period: MINUTE,
            }),
          ],
          right: [
            this.functionMetric(AUTHORIZER_SERVICE, AuthorizerMetrics.authorizerFailures, 'Sum', MINUTE),
          ],
        }),
      );
    }
    dashboard.addWidgets(new AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 }));
    return dashboard;
  }

  /** A websocket function metric per message type: a search, as the types are the application's. */
  private byMessageType(metricName: string): MathExpression {
    const schema = `{"${this.namespace}",service,${MESSAGE_TYPE_DIMENSION}}`;
    return new MathExpression({
      expression: `SEARCH('${schema} service="${WEBSOCKET_SERVICE}" MetricName="${metricName}"', 'Sum', 60)`,
      usingMetrics: {},
      label: metricName,
      period: MINUTE,
    });
  }

  private notificationMetric(metricName: string, statistic: string, period: Duration): Metric {
    return this.functionMetric(NOTIFICATIONS_SERVICE, metricName, statistic, period);
  }

  /** One of a function's metrics, over all its dimensions but `service`. */
  private functionMetric(service: string, metricName: string, statistic: string, period: Duration): Metric {
    return new Metric({
      namespace: this.namespace,
      metricName,
      dimensionsMap: { service },
      statistic,
      period,
    });
  }

  /** An alarm at `threshold` or above, unless a prop turned it off (`false`). */
  private alarm(id: string, metric: IMetric, threshold: number | false, description: string): void {
    if (threshold === false) return;
    const alarm = new Alarm(this.scope, id, {
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    if (this.props.alarmAction) alarm.addAlarmAction(this.props.alarmAction);
    this.alarms.push(alarm);
  }
}
