// plugin/policies/proxy/phase-timers.ts
// The clocks of one provider exchange: one for the phase it is in (connect, first byte, idle gap
// between chunks) and one for the whole exchange. Each phase has its own bound because each means
// something else when it runs out: a provider that is down, one that thinks too long, one that
// stopped half way.

import type { ClientRequest } from 'node:http';
import type { Socket } from 'node:net';

export type TimeoutReason = 'connect_timeout' | 'first_byte_timeout' | 'idle_timeout' | 'total_timeout';

interface PhaseLimits {
  readonly connectTimeoutMs: number;
  readonly firstByteTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly totalTimeoutMs: number;
}

export class PhaseTimers {
  private phase: NodeJS.Timeout | undefined;
  private total: NodeJS.Timeout | undefined;
  private connected = false;
  private sent = false;
  private answered = false;

  constructor(private readonly limits: PhaseLimits, private readonly onTimeout: (reason: TimeoutReason) => void) {}

  /**
   * Times the request's way out: its connect, then its first byte. The first-byte clock starts
   * once the whole request is on the wire: a client uploading a long prompt slowly is not the
   * provider being slow (the server's requestTimeout bounds the client).
   */
  watchRequest(upstream: ClientRequest): void {
    upstream.on('socket', (socket: Socket) => {
      if (!socket.connecting) {
        this.connected = true;
        this.armFirstByte();
        return;
      }
      this.arm(this.limits.connectTimeoutMs, 'connect_timeout');
      socket.once('connect', () => { this.connected = true; this.armFirstByte(); });
    });
    upstream.on('finish', () => { this.sent = true; this.armFirstByte(); });
  }

  /** The provider answered: from now on, the clock is the idle gap between chunks. */
  responded(): void {
    this.answered = true;
    this.arm(this.limits.idleTimeoutMs, 'idle_timeout');
  }

  private armFirstByte(): void {
    if (this.answered || !this.connected) return;
    this.arm(this.sent ? this.limits.firstByteTimeoutMs : 0, 'first_byte_timeout');
  }

  /** Bounds the whole exchange; 0 for no bound. */
  startTotal(): void {
    if (this.limits.totalTimeoutMs > 0) this.total = setTimeout(() => this.onTimeout('total_timeout'), this.limits.totalTimeoutMs);
  }

  /** Starts the clock of a phase (replacing the previous phase's); 0 stops the phase clock. */
  private arm(ms: number, reason: Exclude<TimeoutReason, 'total_timeout'>): void {
    if (this.phase !== undefined) clearTimeout(this.phase);
    this.phase = ms > 0 ? setTimeout(() => this.onTimeout(reason), ms) : undefined;
  }

  /** The phase made progress (a chunk came, or the client drained): its clock starts over. */
  refresh(): void {
    this.phase?.refresh();
  }

  clear(): void {
    this.answered = true;
    if (this.phase !== undefined) clearTimeout(this.phase);
    if (this.total !== undefined) clearTimeout(this.total);
  }
}
