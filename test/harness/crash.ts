// A process death for the in-memory fakes: the fakes count every step they
// take (a store call, a Prefect call, a Prefect write landing), and at the
// chosen step the "process" dies — that step and every later one throws, as
// nothing more happens once a process is killed. What the fakes hold stays,
// as Postgres and Prefect keep what was committed.

export class Crash extends Error {
  constructor(
    readonly step: number,
    readonly label: string,
  ) {
    super(`crashed at step ${step} (${label})`);
    this.name = 'Crash';
  }
}

export class Crasher {
  /** Steps taken so far, with what each was. */
  readonly steps: string[] = [];
  private dead: Crash | null = null;

  /** `at`: the step (1-based) at which the process dies; null never. */
  constructor(private at: number | null = null) {}

  /** Called by a fake before each step; throws once the process is dead. */
  step(label: string): void {
    if (this.dead) throw this.dead;
    this.steps.push(label);
    if (this.at !== null && this.steps.length === this.at) {
      this.dead = new Crash(this.steps.length, label);
      throw this.dead;
    }
  }

  get crashed(): Crash | null {
    return this.dead;
  }

  /** A new process: counting starts again, with another crash point (or none). */
  restart(at: number | null = null): void {
    this.dead = null;
    this.steps.length = 0;
    this.at = at;
  }
}
