/** [users]: `name = pool_mode=... max_user_connections=... pool_size=...` -> `users.<name>`. */
import { errorMessage } from '../util/errors.js';
import type { Ctx } from './context.js';
import { parseConnString } from './conninfo.js';
import type { IniSetting } from './ini-files.js';
import { parseInteger, parsePoolMode, type Parsed } from './values.js';

const PARSERS: Readonly<Record<string, (v: string) => Parsed<unknown>>> = {
  pool_mode: parsePoolMode,
  max_user_connections: (v) => parseInteger(v, 0),
  pool_size: (v) => parseInteger(v, 1),
};

export function convertUsers(ctx: Ctx, settings: readonly IniSetting[]): void {
  const last = new Map<string, IniSetting>();
  for (const s of settings) last.set(s.key, s);
  for (const s of last.values()) {
    const name = s.key;
    let params;
    try {
      params = parseConnString(s.value);
    } catch (err) {
      ctx.report.notCarried(s.origin, `user ${name}`, `${errorMessage(err)} in its settings`);
      continue;
    }
    const user: Record<string, unknown> = {};
    for (const p of params) {
      const parse = PARSERS[p.key];
      if (!parse) {
        ctx.report.notCarried(s.origin, `${p.key} (user ${name})`, 'pgmoat has pool_mode, max_user_connections and pool_size per user only');
        continue;
      }
      const r = parse(p.value);
      if (r.ok) user[p.key] = r.value;
      else ctx.report.notCarried(s.origin, `${p.key} (user ${name})`, r.why);
    }
    if (Object.keys(user).length > 0) ctx.out.users.add({ key: name, value: user });
  }
}
