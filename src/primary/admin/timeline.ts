// The latest supervisor log events, kept in memory for the dashboard's timeline (GET /events).
// A bounded ring: old entries fall off, nothing is written anywhere.

const TIMELINE_LENGTH = 200;

export interface TimelineEntry {
  seq: number;
  at: string;
  level: string;
  event: string;
  slot: number | null;
  pid: number | null;
  msg: string;
}

export class Timeline {
  readonly entries: TimelineEntry[] = [];
  private seq = 0;

  add(at: number, level: string, event: string, msg: string, fields: Readonly<Record<string, unknown>>): void {
    const slot = typeof fields.slot === 'number' ? fields.slot : null;
    const pid = typeof fields.pid === 'number' ? fields.pid : null;
    this.entries.push({ seq: ++this.seq, at: new Date(at).toISOString(), level, event, slot, pid, msg });
    if (this.entries.length > TIMELINE_LENGTH) this.entries.splice(0, this.entries.length - TIMELINE_LENGTH);
  }
}
