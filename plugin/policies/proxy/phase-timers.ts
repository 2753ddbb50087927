// plugin/policies/proxy/phase-timers.ts
// The clocks of one provider exchange: one for the phase it is in (connect, first byte, idle gap
// between chunks) and one for the whole exchange. Each phase has its own bound because each means
// something else when it runs out: a provider that is down, one that thinks too long, one that
// stopped half way.

export type TimeoutReason = 'connect_timeout' | 'first_byte_timeout' | 'idle_timeout' | 'total_timeout';

export class PhaseTimers {
  private phase: NodeJS.Timeout | undefined;
  private total: NodeJS.Timeout | undefined;

  constructor(private readonly onTimeout: (reason: TimeoutReason) => void) {}

  /** Bounds the whole exchange; 0 for no bound. */
  startTotal(ms: number): void {
    if (ms > 0) this.total = setTimeout(() => this.onTimeout('total_timeout'), ms);
  }

  /** Starts the clock of a phase (replacing the previous phase's); 0 stops the phase clock. */
  arm(ms: number, reason: Exclude<TimeoutReason, 'total_timeout'>): void {
    if (this.phase !== undefined) clearTimeout(this.phase);
    this.phase = ms > 0 ? setTimeout(() => this.onTimeout(reason), ms) : undefined;
  }

  /** The phase made progress (a chunk came, or the client drained): its clock starts over. */
  refresh(): void {
    this.phase?.refresh();
  }

  clear(): void {
    if (this.phase !== undefined) clearTimeout(this.phase);
    if (this.total !== undefined) clearTimeout(this.total);
  }
}
