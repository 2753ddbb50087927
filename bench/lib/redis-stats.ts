// bench/lib/redis-stats.ts
// Redis round trips per request: total command calls from `INFO commandstats` before and after a
// run, the INFO calls themselves left out.

import net from 'node:net';

/** One command over RESP, whole bulk reply read (INFO replies span several TCP chunks). */
export function redisBulk(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = Buffer.alloc(0);
    socket.setTimeout(3000, () => { socket.destroy(); reject(new Error('redis command timed out')); });
    socket.on('data', (chunk: Buffer) => {
      reply = Buffer.concat([reply, chunk]);
      const header = reply.indexOf('\r\n');
      if (header < 0) return;
      const first = reply.subarray(0, header).toString('utf8');
      if (!first.startsWith('$')) { socket.end(); resolve(first); return; }
      const length = Number(first.slice(1));
      if (reply.length >= header + 2 + length + 2) { socket.end(); resolve(reply.subarray(header + 2, header + 2 + length).toString('utf8')); }
    });
    socket.on('error', reject);
    socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
  });
}

export type CommandCalls = Record<string, number>;

export async function commandCalls(port: number): Promise<CommandCalls> {
  const text = await redisBulk(port, 'INFO', 'commandstats');
  const calls: CommandCalls = {};
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[match[1] as string] = Number(match[2]);
  return calls;
}

/** Calls per command between two snapshots, INFO left out. */
export function callsBetween(before: CommandCalls, after: CommandCalls): CommandCalls {
  const delta: CommandCalls = {};
  for (const [name, count] of Object.entries(after)) {
    if (name === 'info') continue;
    const d = count - (before[name] ?? 0);
    if (d > 0) delta[name] = d;
  }
  return delta;
}

export interface MonitorCount {
  /** Commands clients sent (one round trip each, pipelining aside). */
  readonly fromClients: number;
  /** Commands run inside Lua scripts (commandstats counts these too, which is why MONITOR is used). */
  readonly fromScripts: number;
  /** Client commands by name. */
  readonly byCommand: CommandCalls;
  stop(): void;
}

/**
 * Watches Redis with MONITOR. Lines look like `+1700000000.123456 [0 127.0.0.1:50000] "evalsha" …`
 * for a client's command and `[0 lua] "hmget" …` for one a script ran.
 */
export function monitor(port: number): Promise<MonitorCount> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const count = { fromClients: 0, fromScripts: 0, byCommand: {} as CommandCalls, stop: () => { socket.destroy(); } };
    let pending = '';
    let started = false;
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      let cut = pending.indexOf('\r\n');
      while (cut >= 0) {
        const line = pending.slice(0, cut);
        pending = pending.slice(cut + 2);
        cut = pending.indexOf('\r\n');
        if (!started) { if (line === '+OK') { started = true; resolve(count); } continue; }
        const match = /^\+[\d.]+ \[\d+ ([^\]]+)\] "([^"]+)"/.exec(line);
        if (!match) continue;
        const command = (match[2] as string).toLowerCase();
        if (match[1] === 'lua') { count.fromScripts += 1; continue; }
        if (command === 'info' || command === 'monitor') continue;
        count.fromClients += 1;
        count.byCommand[command] = (count.byCommand[command] ?? 0) + 1;
      }
    });
    socket.on('error', (error) => { if (!started) reject(error); });
    socket.write('*1\r\n$7\r\nMONITOR\r\n');
  });
}
