// plugin/stores/sent-batch.ts
// Store operations written to Redis in one go: answered together, each with its own reply, or
// failed together when Redis stays silent past the deadline or the call fails.

import type { AwaitingReply, RedisReplyTimeoutError } from './reply-deadlines';
import type { BucketLimits } from './store';

/** One take or settle waiting to be sent: its key, what it asks, where its reply goes. */
export interface PendingOperation {
  readonly key: string;
  /** `r`, `b`, `a` or `s` (token-bucket.lua). */
  readonly kind: string;
  /** The limits it names, each followed in the script's arguments by its amount. */
  readonly limits: readonly BucketLimits[];
  /** Per limit, what it takes or gives back; amounts past the limits follow without one. */
  readonly amounts: readonly number[];
  /** How many integers of the script's flat reply are this operation's. */
  readonly replyLength: number;
  readonly resolve: (reply: number[]) => void;
  readonly reject: (error: unknown) => void;
}

export class SentBatch implements AwaitingReply {
  answered = false;

  constructor(private readonly operations: readonly PendingOperation[]) {}

  /** `replies` is the script's flat reply: each operation's integers in turn. */
  answer(replies: readonly number[]): void {
    if (this.answered) return;
    this.answered = true;
    let at = 0;
    for (const operation of this.operations) {
      const end = at + operation.replyLength;
      if (end <= replies.length) operation.resolve(replies.slice(at, end));
      else operation.reject(new Error('Redis gave no reply for a batched operation'));
      at = end;
    }
  }

  fail(error: unknown): void {
    if (this.answered) return;
    this.answered = true;
    for (const operation of this.operations) operation.reject(error);
  }

  expire(error: RedisReplyTimeoutError): void {
    this.fail(error);
  }
}
