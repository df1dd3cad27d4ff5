/**
 * Who listens on a local TCP port, for the message of a start that found its port taken:
 * "already in use by another process" is more useful with that process's pid and command.
 *
 * Linux only, best effort, and only on that failure path: the listening sockets of the port
 * come from /proc/net/tcp{,6}, their owner from the /proc/<pid>/fd links that point at them.
 * Anything unreadable (another OS, another user's process) just gives no answer.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** At most this many processes are looked through. */
const MAX_PIDS = 4096;

/** The inodes of the sockets listening on `port` (state 0A), over IPv4 and IPv6. */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (f.length > 9 && f[1]?.endsWith(`:${hexPort}`) && f[3] === '0A' && f[9] !== '0') inodes.add(f[9]!);
    }
  }
  return inodes;
}

/** `pid 123: the command line`, or null when it cannot be found out. */
export function portOwner(port: number): string | null {
  try {
    const inodes = listeningInodes(port);
    if (inodes.size === 0) return null;
    const pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n)).slice(0, MAX_PIDS);
    for (const pid of pids) {
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${pid}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) {
        let link: string;
        try {
          link = readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          continue;
        }
        const m = /^socket:\[(\d+)\]$/.exec(link);
        if (!m || !inodes.has(m[1]!)) continue;
        let cmd = '';
        try {
          cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').trim();
        } catch {
          /* gone meanwhile */
        }
        return `pid ${pid}${cmd ? `: ${cmd.length > 200 ? `${cmd.slice(0, 199)}…` : cmd}` : ''}`;
      }
    }
  } catch {
    /* not Linux, or /proc unreadable */
  }
  return null;
}
