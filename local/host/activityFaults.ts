/** Fault injection for tests: an activity that fails before it runs, or after it did its work (its result lost). */
export interface ActivityFault {
  activity: string;
  when: 'before' | 'after';
  times: number;
  /** Only inputs this returns true for. */
  match?: (input: unknown) => boolean;
}

/** The faults still to inject; each is used up after `times` matching calls. */
export class ActivityFaults {
  private readonly faults: ActivityFault[] = [];

  add(fault: ActivityFault): void {
    this.faults.push({ ...fault });
  }

  /** Whether a fault applies to this call; counts it when it does. */
  take(activity: string, when: ActivityFault['when'], input: unknown): boolean {
    const at = this.faults.findIndex(
      (f) => f.activity.toLowerCase() === activity.toLowerCase() && f.when === when && (!f.match || f.match(input)),
    );
    if (at < 0) return false;
    const fault = this.faults[at]!;
    if (--fault.times <= 0) this.faults.splice(at, 1);
    return true;
  }
}
