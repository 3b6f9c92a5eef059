/**
 * What the admin console's DISABLE/ENABLE and SUSPEND/RESUME do to new logins. A disabled
 * database refuses new logins (sessions already in it go on); while the gateway is suspended, a
 * new login to a pooled database waits for RESUME, up to its client_login_timeout, and the admin
 * console still takes logins so that someone can send RESUME. Both states outlive a RELOAD, as in
 * PgBouncer (they are not settings of the file).
 */
import type { Socket } from 'node:net';
import { PgmoatError } from '../util/errors.js';

export class LoginGate {
  private readonly disabledSet = new Set<string>();
  private suspendedNow = false;
  private readonly waiters = new Set<() => void>();

  get suspended(): boolean {
    return this.suspendedNow;
  }

  get disabled(): ReadonlySet<string> {
    return this.disabledSet;
  }

  /** Logins held by SUSPEND right now (SHOW LISTS). */
  get held(): number {
    return this.waiters.size;
  }

  disable(database: string): void {
    this.disabledSet.add(database);
  }

  enable(database: string): void {
    this.disabledSet.delete(database);
  }

  suspend(): void {
    this.suspendedNow = true;
  }

  resume(): void {
    this.suspendedNow = false;
    for (const wake of [...this.waiters]) wake();
  }

  /**
   * Whether a login to `database` may go on: throws DATABASE_DISABLED; undefined (go on at once,
   * which is every login while nothing is suspended: no promise per connection), or a promise that
   * resolves at RESUME and rejects with GATEWAY_SUSPENDED once `deadline` (0 = none) passes.
   */
  admit(database: string, deadline: number, socket: Socket): Promise<void> | undefined {
    this.refuseDisabled(database);
    return this.suspendedNow ? this.waitForResume(database, deadline, socket) : undefined;
  }

  private async waitForResume(database: string, deadline: number, socket: Socket): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        this.waiters.delete(done);
        if (timer) clearTimeout(timer);
        socket.off('close', done);
        resolve();
      };
      this.waiters.add(done);
      socket.once('close', done);
      if (deadline > 0) {
        timer = setTimeout(() => {
          done();
          if (this.suspendedNow) reject(new PgmoatError('GATEWAY_SUSPENDED', 'the gateway is suspended (admin SUSPEND) and was not resumed within client_login_timeout'));
        }, Math.max(0, deadline - Date.now()));
        timer.unref();
      }
    });
    // DISABLE may have come while this login waited.
    this.refuseDisabled(database);
  }

  private refuseDisabled(database: string): void {
    if (this.disabledSet.has(database)) {
      throw new PgmoatError('DATABASE_DISABLED', `database "${database}" is not accepting new connections (admin DISABLE)`, {
        hint: 'An operator disabled it on the admin console; ENABLE reopens it. Sessions already open go on.',
      });
    }
  }
}
