/**
 * Loading watched files again after a change: events within `debounceMs` of each other make one
 * load, and a change seen while a load runs makes one more load after it, never two at once.
 * Used by the CRL watch and the TLS file watch alike.
 */
export class DebouncedLoader {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly loadOnce: () => Promise<void>,
    private readonly debounceMs: number,
  ) {}

  /** A change was seen: load once things are quiet for debounceMs. */
  schedule(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.load();
    }, this.debounceMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private load(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.loadOnce().finally(() => {
      this.running = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        void this.load();
      }
    });
    return this.running;
  }
}
