// plugin/stores/sent-batch.ts
// Redis commands written in one go (one pipeline, or a single command): answered together, each
// with its own reply, or failed together when Redis stays silent past the deadline.

import type { AwaitingReply, RedisReplyTimeoutError } from './reply-deadlines';

/** One script call waiting to be sent, with its arguments. */
export interface PendingCommand {
  readonly command: 'tbrlTake' | 'tbrlSettle';
  readonly args: readonly string[];
  readonly resolve: (reply: unknown) => void;
  readonly reject: (error: unknown) => void;
}

export class SentBatch implements AwaitingReply {
  answered = false;

  constructor(private readonly commands: readonly PendingCommand[]) {}

  /** `replies[i]` answers `commands[i]`, as ioredis' pipeline results ([error, reply]). */
  answer(replies: ReadonlyArray<[Error | null, unknown]> | null): void {
    if (this.answered) return;
    this.answered = true;
    this.commands.forEach((command, i) => {
      const [error, reply] = replies?.[i] ?? [new Error('Redis gave no reply for a pipelined command'), undefined];
      if (error) command.reject(error);
      else command.resolve(reply);
    });
  }

  fail(error: unknown): void {
    if (this.answered) return;
    this.answered = true;
    for (const command of this.commands) command.reject(error);
  }

  expire(error: RedisReplyTimeoutError): void {
    this.fail(error);
  }
}
