// plugin/stores/reply-deadlines.ts
// The timeout of Redis decisions, judged after the gateway has read what Redis already sent.
// A timer that expires while the event loop is busy runs, in Node's timers phase, before the poll
// phase reads the sockets: a plain command timeout (ioredis' commandTimeout) then fails a decision
// whose answer came in time and sits unread. Here the timer only schedules a check with
// setImmediate (the check phase follows a poll phase), and a decision found past its deadline
// gets one more loop turn, that is one more read of every socket, before it fails. On an idle
// loop that turn takes microseconds, so a silent Redis is still answered at the timeout; on a
// saturated one it lasts as long as the loop's lag. At 1,000 connections on one gateway, some
// answers Redis had sent within milliseconds (MONITOR showed it) still reached the gateway only
// after the first check (the saturated host also retransmitted on that connection); all of them
// came within the extra turn.
// One timer serves every batch in flight (they share one timeout, so they expire in the order
// they were sent): per request, the cost is an array push instead of a timer armed and cleared.

import { performance } from 'node:perf_hooks';

/** A decision (or batch of them) sent to Redis and waiting for its answer. */
export interface AwaitingReply {
  /** True once its answer came (or it failed some other way): it can no longer time out. */
  readonly answered: boolean;
  /** The deadline passed with no answer, though every reply that had arrived was read: fail it. */
  expire(error: RedisReplyTimeoutError): void;
}

/** The store's `timeout` kind: Redis did not answer a decision within the bound. */
export class RedisReplyTimeoutError extends Error {
  override readonly name = 'RedisReplyTimeoutError';
  constructor(timeoutMs: number) {
    super(`Redis did not answer within ${timeoutMs} ms`);
  }
}

interface Tracked {
  /** performance.now() past which the reply is late. */
  readonly dueAt: number;
  readonly waiting: AwaitingReply;
  /** Found past its deadline once: it fails if the next turn brings no answer either. */
  lastTurn: boolean;
}

export class ReplyDeadlines {
  /** In the order sent, hence of deadline: one timeout for all. */
  private queue: Tracked[] = [];
  private timer: NodeJS.Timeout | undefined;
  private checkPending = false;

  constructor(readonly timeoutMs: number) {}

  /** Starts the clock for something written to Redis just now. */
  track(waiting: AwaitingReply): void {
    this.queue.push({ dueAt: performance.now() + this.timeoutMs, waiting, lastTurn: false });
    if (this.timer === undefined && !this.checkPending) this.arm(this.timeoutMs);
  }

  private arm(ms: number): void {
    this.timer = setTimeout(this.onTimer, Math.max(1, Math.ceil(ms)));
    // Waiting decisions belong to requests, which keep the process alive on their own.
    this.timer.unref();
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.checkPending = true;
    setImmediate(this.check);
  };

  private readonly check = (): void => {
    this.checkPending = false;
    const now = performance.now();
    /** Leading entries that are settled (answered or failed now): they leave the queue. */
    let settled = 0;
    let anotherTurn = false;
    let error: RedisReplyTimeoutError | undefined;
    for (const tracked of this.queue) {
      if (!tracked.waiting.answered) {
        if (tracked.dueAt > now) break;
        if (!tracked.lastTurn) {
          tracked.lastTurn = true;
          anotherTurn = true;
        } else {
          error ??= new RedisReplyTimeoutError(this.timeoutMs);
          tracked.waiting.expire(error);
        }
      }
      if (!anotherTurn) settled += 1;
    }
    if (settled > 0) this.queue = this.queue.slice(settled);
    if (anotherTurn) {
      this.checkPending = true;
      setImmediate(this.check);
      return;
    }
    const next = this.queue[0];
    if (next !== undefined) this.arm(next.dueAt - now);
  };
}
