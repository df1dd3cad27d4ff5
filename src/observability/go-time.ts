/**
 * Timestamps in the Go layouts llama-swap accepts for `logTimeFormat` (reference 2.2), so a
 * config keeps printing the same log lines. Unknown names mean no timestamp, as in llama-swap.
 */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

const p2 = (n: number) => String(n).padStart(2, '0');
const p3 = (n: number) => String(n).padStart(3, '0');

function zone(d: Date, colon: boolean, zForUtc: boolean): string {
  const off = -d.getTimezoneOffset();
  if (off === 0 && zForUtc) return 'Z';
  const sign = off >= 0 ? '+' : '-';
  const a = Math.abs(off);
  return `${sign}${p2(Math.floor(a / 60))}${colon ? ':' : ''}${p2(a % 60)}`;
}

function zoneName(d: Date): string {
  const m = /\(([^)]+)\)/.exec(d.toString());
  const name = m?.[1] ?? '';
  const abbrev = name.split(' ').map((w) => w[0]).join('');
  return name.length <= 5 ? name : abbrev || 'UTC';
}

function parts(d: Date) {
  return {
    y: d.getFullYear(),
    mo: d.getMonth(),
    day: d.getDate(),
    wd: d.getDay(),
    h: d.getHours(),
    mi: d.getMinutes(),
    s: d.getSeconds(),
    ms: d.getMilliseconds(),
  };
}

type Formatter = (d: Date) => string;

const clock = (d: Date) => `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
const stampDay = (d: Date) => `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')}`;

const layouts: Record<string, Formatter> = {
  ansic: (d) => `${DAYS[d.getDay()]} ${stampDay(d)} ${clock(d)} ${d.getFullYear()}`,
  unixdate: (d) => `${DAYS[d.getDay()]} ${stampDay(d)} ${clock(d)} ${zoneName(d)} ${d.getFullYear()}`,
  rubydate: (d) => `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${p2(d.getDate())} ${clock(d)} ${zone(d, false, false)} ${d.getFullYear()}`,
  rfc822: (d) => `${p2(d.getDate())} ${MONTHS[d.getMonth()]} ${String(d.getFullYear()).slice(2)} ${p2(d.getHours())}:${p2(d.getMinutes())} ${zoneName(d)}`,
  rfc822z: (d) => `${p2(d.getDate())} ${MONTHS[d.getMonth()]} ${String(d.getFullYear()).slice(2)} ${p2(d.getHours())}:${p2(d.getMinutes())} ${zone(d, false, false)}`,
  rfc850: (d) => {
    const full = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'][d.getDay()];
    return `${full}, ${p2(d.getDate())}-${MONTHS[d.getMonth()]}-${String(d.getFullYear()).slice(2)} ${clock(d)} ${zoneName(d)}`;
  },
  rfc1123: (d) => `${DAYS[d.getDay()]}, ${p2(d.getDate())} ${MONTHS[d.getMonth()]} ${d.getFullYear()} ${clock(d)} ${zoneName(d)}`,
  rfc1123z: (d) => `${DAYS[d.getDay()]}, ${p2(d.getDate())} ${MONTHS[d.getMonth()]} ${d.getFullYear()} ${clock(d)} ${zone(d, false, false)}`,
  rfc3339: (d) => {
    const t = parts(d);
    return `${t.y}-${p2(t.mo + 1)}-${p2(t.day)}T${clock(d)}${zone(d, true, true)}`;
  },
  rfc3339nano: (d) => {
    const t = parts(d);
    const frac = t.ms === 0 ? '' : `.${p3(t.ms).replace(/0+$/, '')}`;
    return `${t.y}-${p2(t.mo + 1)}-${p2(t.day)}T${clock(d)}${frac}${zone(d, true, true)}`;
  },
  kitchen: (d) => `${d.getHours() % 12 || 12}:${p2(d.getMinutes())}${d.getHours() < 12 ? 'AM' : 'PM'}`,
  stamp: (d) => `${stampDay(d)} ${clock(d)}`,
  stampmilli: (d) => `${stampDay(d)} ${clock(d)}.${p3(d.getMilliseconds())}`,
  stampmicro: (d) => `${stampDay(d)} ${clock(d)}.${p3(d.getMilliseconds())}000`,
  stampnano: (d) => `${stampDay(d)} ${clock(d)}.${p3(d.getMilliseconds())}000000`,
};

/** The formatter for a `logTimeFormat` name (case-insensitive), or null for none. */
export function goTimeFormatter(name: string): Formatter | null {
  return layouts[name.trim().toLowerCase()] ?? null;
}
