// plugin/llm/usage-meter.ts
// Turns one exchange's answer into what its LLM-token reservation is settled with, exactly once,
// however it ends. The provider's usage when it reported one; nothing when the provider (or the
// gateway) failed before any output; otherwise (a stream cut short, a client that left, an answer
// without usage) the input estimate plus the content forwarded, by the estimate's rule.

import { AnswerTap } from './answer-tap';
import { tokensOfBytes, type TokenEstimate } from './estimate';
import { StreamTap } from './stream-tap';

/** How the exchange with the provider ended, seen from the gateway. */
export type ExchangeEnd = 'completed' | 'failed' | 'cancelled';

type SettlementOutcome = 'usage' | 'estimated' | 'refunded';

export interface Charge {
  readonly outcome: SettlementOutcome;
  readonly input: number;
  readonly output: number;
  /** input + output, or the provider's own total when it reported one. */
  readonly total: number;
}

/** Reads an answer's body as it passes, and may hold part of it back (a usage-only stream chunk). */
export interface ResponseTap {
  pass(chunk: Buffer): Buffer;
}

/** What the proxy tells the limiter's reservation about the exchange (plugin/http/exchange.ts carries it). */
export interface UsageMeter {
  /** The provider answered: the tap its body goes through. */
  answer(status: number, eventStream: boolean): ResponseTap & { flush(): Buffer };
  /** The exchange is over; only the first call counts. */
  end(how: ExchangeEnd): void;
}

const NOTHING = Buffer.alloc(0);

export class ReservationMeter implements UsageMeter {
  private status: number | undefined;
  private stream: StreamTap | undefined;
  private answerTap: AnswerTap | undefined;
  private ended = false;

  /**
   * `dropUsageChunk`: the gateway asked the provider for the stream's usage; the client did not.
   * `settle` is called once, with what the exchange is charged.
   */
  constructor(private readonly estimate: TokenEstimate, private readonly dropUsageChunk: boolean, private readonly settle: (charge: Charge) => void) {}

  answer(status: number, eventStream: boolean): ResponseTap & { flush(): Buffer } {
    this.status = status;
    if (eventStream) {
      const tap = new StreamTap(this.dropUsageChunk);
      this.stream = tap;
      return tap;
    }
    const tap = new AnswerTap();
    this.answerTap = tap;
    return { pass: (chunk) => tap.pass(chunk), flush: () => NOTHING };
  }

  end(how: ExchangeEnd): void {
    if (this.ended) return;
    this.ended = true;
    this.settle(this.charge(how));
  }

  private charge(how: ExchangeEnd): Charge {
    const usage = this.stream?.usage ?? this.answerTap?.usage();
    if (usage !== undefined) return { outcome: 'usage', input: usage.prompt, output: usage.completion, total: usage.total };
    const answeredOk = this.status !== undefined && this.status < 400;
    const contentBytes = this.stream?.contentBytes ?? (answeredOk && how === 'completed' ? this.answerTap?.contentBytes() ?? 0 : 0);
    // A provider (or gateway) failure before any output: nothing was produced, nothing is charged.
    // A client that left is charged its input: the provider read the prompt.
    if (contentBytes === 0 && (how === 'failed' || !answeredOk && this.status !== undefined)) return { outcome: 'refunded', input: 0, output: 0, total: 0 };
    const output = tokensOfBytes(contentBytes);
    return { outcome: 'estimated', input: this.estimate.input, output, total: this.estimate.input + output };
  }
}
