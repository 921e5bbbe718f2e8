// The Clock: where time comes from. Production code uses systemClock; tests of timed code pass a fake.

export interface Clock {
  now(): number;
  setInterval(callback: () => void, ms: number): { cancel(): void };
  setTimeout(callback: () => void, ms: number): { cancel(): void };
}

export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  setInterval(callback, ms) {
    const timer = setInterval(callback, ms);
    return { cancel: () => clearInterval(timer) };
  },
  setTimeout(callback, ms) {
    const timer = setTimeout(callback, ms);
    return { cancel: () => clearTimeout(timer) };
  },
};
