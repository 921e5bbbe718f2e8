// Pure choices of the connection path, no I/O, no clock of their own.
//
// `--balance handoff`: which worker gets the next connection the primary accepted. Least loaded
// first: a worker with no hand-off waiting for its acknowledgement beats one with a hand-off in
// flight (its loop may be blocked: never queue a connection behind it while another worker is free),
// then the fewest open connections as the worker last reported them, then round-robin from the
// cursor among equals. A worker whose oldest unacknowledged hand-off is older than `slowAckMs` is
// passed over (frozen, or busy for that long); if every worker is slow, the one with the fewest
// unacknowledged hand-offs gets it.
//
// `--sticky` (handoff only): the worker for a client address, by rendezvous hashing over the slots
// of the workers in rotation: stable while that set is unchanged, and when a worker leaves (sick,
// draining, dead) only its own clients move, each to the next-highest score.
//
// `--balance shared`: which workers to tell to start or stop accepting from the shared listening
// socket when the rotation changes.

export interface Candidate {
  id: number;
  /** Hand-offs sent and not yet acknowledged. */
  pending: number;
  oldestPendingMs: number;
  /** Open connections the worker reported with its last acknowledgement (0 before the first). */
  connections: number;
}

function lessLoaded(a: Candidate, b: Candidate): boolean {
  if (a.pending !== b.pending) return a.pending < b.pending;
  return a.connections < b.connections;
}

export function chooseWorker(
  candidates: readonly Candidate[],
  cursor: number,
  slowAckMs: number,
): { id: number; nextCursor: number } | undefined {
  const count = candidates.length;
  if (count === 0) return undefined;
  let bestIndex = -1;
  for (let offset = 0; offset < count; offset++) {
    const index = (cursor + offset) % count;
    const candidate = candidates[index] as Candidate;
    if (candidate.oldestPendingMs >= slowAckMs) continue;
    // Strictly better only: among equals the first from the cursor wins (round-robin).
    if (bestIndex === -1 || lessLoaded(candidate, candidates[bestIndex] as Candidate)) bestIndex = index;
  }
  if (bestIndex !== -1) return { id: (candidates[bestIndex] as Candidate).id, nextCursor: (bestIndex + 1) % count };
  let best = candidates[0] as Candidate;
  for (const candidate of candidates) if (candidate.pending < best.pending) best = candidate;
  return { id: best.id, nextCursor: (cursor + 1) % count };
}

/**
 * Shared mode: given the workers accepting now and the workers in rotation, who must start and who
 * must stop. Only workers still alive are in `accepting`; the dead ones' copies closed with them.
 */
export function acceptorChanges(accepting: ReadonlySet<number>, rotation: readonly number[]): { start: number[]; stop: number[] } {
  const wanted = new Set(rotation);
  return {
    start: rotation.filter((id) => !accepting.has(id)),
    stop: [...accepting].filter((id) => !wanted.has(id)),
  };
}

/** FNV-1a, 32 bits: cheap, and spreads short strings such as addresses well enough. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  // A last avalanche step (murmur3's fmix32): the keys differ only in their last few characters.
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b) >>> 0;
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35) >>> 0;
  return (hash ^ (hash >>> 16)) >>> 0;
}

/**
 * `--sticky`: the worker in `rotation` for the client at `address`: the highest score of address and
 * slot, so a worker that replaces another in its slot (crash, recycle, reload) gets that slot's
 * clients back, and no other client moves. Two workers of one slot (during a reload): the newer.
 * Workers in `avoid` (they let a hand-off expire lately) are passed over unless every worker is.
 */
export function stickyWorker(address: string, rotation: readonly { id: number; slot: number }[], avoid: ReadonlySet<number> = new Set()): number | undefined {
  for (const pass of [true, false]) {
    let best: { id: number; score: number } | undefined;
    for (const { id, slot } of rotation) {
      if (pass && avoid.has(id)) continue;
      const score = fnv1a(`${address}|${slot}`);
      if (best === undefined || score > best.score || (score === best.score && id > best.id)) best = { id, score };
    }
    if (best !== undefined) return best.id;
  }
  return undefined;
}
