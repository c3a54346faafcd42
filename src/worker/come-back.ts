import type { Logger } from 'pino';
import type { Clock } from './work-queue.js';

export interface ComeBackDue {
  connectors: Set<string>;
  full: boolean;
}

/**
 * One timer for "come back for these connectors once their open intents may
 * be settled" (a targeted pass, or a full one for a deployment without a
 * connector). Requests merge: the earliest time wins and gathers them all;
 * that pass asks again for the ones still too young.
 */
export class ComeBack {
  private pending: { at: number; timer: NodeJS.Timeout; due: ComeBackDue } | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly fire: (due: ComeBackDue) => void,
  ) {}

  schedule(request: { inMs: number; connectors: string[]; full: boolean }): void {
    const at = this.clock.now() + request.inMs;
    const previous = this.pending;
    const due: ComeBackDue = previous?.due ?? { connectors: new Set(), full: false };
    for (const id of request.connectors) due.connectors.add(id);
    due.full ||= request.full;
    if (previous && previous.at <= at) return;
    if (previous) clearTimeout(previous.timer);
    const timer = setTimeout(() => {
      const fired = this.pending;
      this.pending = null;
      if (fired) this.fire(fired.due);
    }, at - this.clock.now());
    timer.unref();
    this.pending = { at, timer, due };
    this.log.info(
      { connectors: [...due.connectors], inMs: at - this.clock.now() },
      'open intents too recent to settle; coming back for them',
    );
  }

  cancel(): void {
    if (this.pending) clearTimeout(this.pending.timer);
    this.pending = null;
  }
}
