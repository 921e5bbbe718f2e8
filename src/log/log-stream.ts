// Where the primary's log lines go: a file descriptor (stdout, stderr) written asynchronously, with a
// bounded queue. A slow, full or closed pipe and a full disk must never crash, block or spin the
// primary, nor block a worker: records that do not fit are dropped and counted, and the count is
// written as a record of its own once the descriptor accepts writes again.

import { write } from 'node:fs';
import { errnoCode } from '../errors.js';

export interface LogStreamStats {
  /** Records and bytes dropped since the primary started (queue full, or the descriptor failing). */
  droppedLines: number;
  droppedBytes: number;
  /** The errno of the last failed write (EPIPE, ENOSPC, …), or null. */
  lastError: string | null;
  /** True while writes fail; records are dropped until a retry succeeds. */
  failing: boolean;
}

export interface LogStreamOptions {
  /** Bytes queued at most; a record that would go past it is dropped. */
  maxQueuedBytes: number;
  /** While failing, how long to wait before trying the descriptor again. */
  retryAfterMs: number;
  /** The record that reports a gap, written first once writes work again. */
  describeDrop: (lines: number, bytes: number, error: string | null) => string;
  /** Test seam: the fs.write to use. */
  writeFn?: typeof write;
}

/** Largest single write; each record is written whole and in order, so lines never tear. */
const MAX_WRITE_BYTES = 1024 * 1024;

export class LogStream {
  readonly stats: LogStreamStats = { droppedLines: 0, droppedBytes: 0, lastError: null, failing: false };
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private writing = false;
  /** Drops not yet reported in the stream itself. */
  private unreportedLines = 0;
  private unreportedBytes = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly waiters: (() => void)[] = [];
  private readonly writeFn: typeof write;

  constructor(
    private readonly fd: number,
    private readonly options: LogStreamOptions,
  ) {
    this.writeFn = options.writeFn ?? write;
  }

  write(text: string): void {
    const buffer = Buffer.from(text, 'utf8');
    if (this.stats.failing || this.queuedBytes + buffer.length > this.options.maxQueuedBytes) {
      this.drop(1, buffer.length);
      return;
    }
    this.queue.push(buffer);
    this.queuedBytes += buffer.length;
    this.pump();
  }

  /** Resolves when the queue is empty, or after `timeoutMs` (a stuck pipe must not hold an exit). */
  flush(timeoutMs: number): Promise<void> {
    if (this.queue.length === 0 && !this.writing) return Promise.resolve();
    return new Promise((resolve) => {
      // Not unref'd: at exit nothing else may hold the event loop, and with every timer of a stuck
      // descriptor unref'd Node would end the process here, before the caller's process.exit(code)
      // (exit code 0 whatever the outcome, and no wait at all). The timeout bounds the wait.
      const timer = setTimeout(resolve, timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private drop(lines: number, bytes: number): void {
    this.stats.droppedLines += lines;
    this.stats.droppedBytes += bytes;
    this.unreportedLines += lines;
    this.unreportedBytes += bytes;
  }

  private pump(): void {
    if (this.writing || this.stats.failing) return;
    if (this.queue.length === 0) {
      for (const waiter of this.waiters.splice(0)) waiter();
      return;
    }
    if (this.unreportedLines > 0) {
      const notice = Buffer.from(this.options.describeDrop(this.unreportedLines, this.unreportedBytes, this.stats.lastError), 'utf8');
      this.unreportedLines = 0;
      this.unreportedBytes = 0;
      this.queue.unshift(notice);
      this.queuedBytes += notice.length;
    }
    // Join whole records up to MAX_WRITE_BYTES into one write.
    let count = 0;
    let size = 0;
    while (count < this.queue.length && (count === 0 || size + (this.queue[count] as Buffer).length <= MAX_WRITE_BYTES)) {
      size += (this.queue[count] as Buffer).length;
      count += 1;
    }
    const records = this.queue.splice(0, count);
    this.queuedBytes -= size;
    this.writing = true;
    this.writeAll(Buffer.concat(records, size), 0, records.length);
  }

  private writeAll(buffer: Buffer, offset: number, records: number): void {
    this.writeFn(this.fd, buffer, offset, buffer.length - offset, null, (error, written) => {
      if (error) {
        const code = errnoCode(error) ?? error.message;
        if (code === 'EAGAIN') {
          // A non-blocking descriptor that is full: try the rest again shortly.
          setTimeout(() => this.writeAll(buffer, offset, records), 20).unref();
          return;
        }
        // EPIPE (the reader went away), ENOSPC (disk full), EBADF, …: drop this batch and everything
        // written until a retry succeeds. The retry writes nothing but the drop notice.
        this.writing = false;
        this.stats.failing = true;
        this.stats.lastError = code;
        this.drop(offset === 0 ? records : 1, buffer.length - offset);
        this.drop(this.queue.length, this.queuedBytes);
        this.queue = [];
        this.queuedBytes = 0;
        for (const waiter of this.waiters.splice(0)) waiter();
        this.scheduleRetry();
        return;
      }
      if (offset + written < buffer.length) {
        this.writeAll(buffer, offset + written, records);
        return;
      }
      this.writing = false;
      this.pump();
    });
  }

  private scheduleRetry(): void {
    if (this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      const notice = Buffer.from(this.options.describeDrop(this.unreportedLines, this.unreportedBytes, this.stats.lastError), 'utf8');
      this.writing = true;
      this.writeFn(this.fd, notice, 0, notice.length, null, (error, written) => {
        this.writing = false;
        if (error) {
          this.stats.lastError = errnoCode(error) ?? error.message;
          this.scheduleRetry();
          return;
        }
        // Written whole or in part, the descriptor works again; a partial notice is finished by
        // the normal path (it is small, so this is rare).
        this.stats.failing = false;
        this.unreportedLines = 0;
        this.unreportedBytes = 0;
        if (written < notice.length) {
          this.queue.unshift(notice.subarray(written));
          this.queuedBytes += notice.length - written;
        }
        this.pump();
      });
    }, this.options.retryAfterMs);
    // A failing log stream must not keep the primary alive.
    this.retryTimer.unref();
  }
}
