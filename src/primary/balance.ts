// Pure choice of the worker that gets the next connection: round-robin over the workers in rotation,
// passing over any whose oldest unacknowledged hand-off is older than `slowAckMs` (its event loop is
// not reading its IPC channel: frozen, or busy for that long). If every worker is slow, the one with
// the fewest unacknowledged connections gets it.

export interface Candidate {
  id: number;
  pending: number;
  oldestPendingMs: number;
}

export function chooseWorker(
  candidates: readonly Candidate[],
  cursor: number,
  slowAckMs: number,
): { id: number; nextCursor: number } | undefined {
  const count = candidates.length;
  if (count === 0) return undefined;
  for (let offset = 0; offset < count; offset++) {
    const index = (cursor + offset) % count;
    const candidate = candidates[index] as Candidate;
    if (candidate.oldestPendingMs < slowAckMs) return { id: candidate.id, nextCursor: (index + 1) % count };
  }
  let best = candidates[0] as Candidate;
  for (const candidate of candidates) if (candidate.pending < best.pending) best = candidate;
  return { id: best.id, nextCursor: (cursor + 1) % count };
}
